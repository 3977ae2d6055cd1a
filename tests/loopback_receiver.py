"""An HTTP endpoint on 127.0.0.1 for webhooks delivered in tests: a threaded server started on
entry and stopped on exit. The Stripe and Shippo receivers (tests/stripe_helpers.py,
tests/shippo_helpers.py) and the stack's vendor and platform endpoints (tests/e2e/webhook_inbox.py,
tests/e2e/platform_receiver.py) give it their own request handler."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self


class QuietHandler(BaseHTTPRequestHandler):
    """A handler that writes no access log to the test's stderr."""

    def log_message(self, *_: Any) -> None:
        pass


class LoopbackReceiver:
    def _serve(self, handler: type[BaseHTTPRequestHandler], port: int = 0) -> None:
        """Listen on `port` (0: any free one; the stack's worker only reaches the one port it
        allows, tests/e2e/webhook_inbox.allowed_webhook_port)."""
        self._server = ThreadingHTTPServer(("127.0.0.1", port), handler)
        self._server.daemon_threads = True
        # A short poll interval, so shutting the receiver down takes milliseconds, not 0.5 s.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *_: Any) -> None:
        self._server.shutdown()
        self._server.server_close()
