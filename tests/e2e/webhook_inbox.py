"""A vendor's webhook endpoint for tests that go through the running stack.

The stack's worker reaches a loopback receiver only on the one host:port the stack allows
(FULFILLMENT_WEBHOOK_ALLOWED_HOSTS, set in tests/conftest.py): the inbox listens there.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

from devstack.stack import DevStack
from tests.loopback_receiver import LoopbackReceiver, QuietHandler


def allowed_webhook_port(stack: DevStack) -> int:
    host, _, port = stack.env["FULFILLMENT_WEBHOOK_ALLOWED_HOSTS"].rpartition(":")
    assert host == "127.0.0.1", stack.env["FULFILLMENT_WEBHOOK_ALLOWED_HOSTS"]
    return int(port)


class Inbox(LoopbackReceiver):
    """Keeps what it was sent; answers 204."""

    def __init__(self, port: int) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        inbox = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                inbox.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(204)
                self.end_headers()

        self._serve(Handler, port)
        self.url = f"http://127.0.0.1:{port}/hooks"

    def types(self) -> list[str]:
        return [json.loads(body)["type"] for _, body in self.received]


@contextmanager
def running_inbox(port: int) -> Iterator[Inbox]:
    with Inbox(port) as box:
        yield box
