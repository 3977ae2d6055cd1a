"""A vendor's webhook endpoint for tests that go through the running stack.

The stack's worker reaches a loopback receiver only on the one host:port the stack allows
(FULFILLMENT_WEBHOOK_ALLOWED_HOSTS, set in tests/conftest.py): the inbox listens there.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from devstack.stack import DevStack


def allowed_webhook_port(stack: DevStack) -> int:
    host, _, port = stack.env["FULFILLMENT_WEBHOOK_ALLOWED_HOSTS"].rpartition(":")
    assert host == "127.0.0.1", stack.env["FULFILLMENT_WEBHOOK_ALLOWED_HOSTS"]
    return int(port)


class Inbox:
    """Keeps what it was sent; answers 204."""

    def __init__(self, port: int) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        inbox = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                inbox.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.url = f"http://127.0.0.1:{port}/hooks"

    def types(self) -> list[str]:
        return [json.loads(body)["type"] for _, body in self.received]


@contextmanager
def running_inbox(port: int) -> Iterator[Inbox]:
    box = Inbox(port)
    thread = threading.Thread(target=box.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield box
    finally:
        box.server.shutdown()
        box.server.server_close()
        thread.join(timeout=5)
