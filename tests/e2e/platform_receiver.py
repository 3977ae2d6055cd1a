"""The platform's (storefront's) event endpoint for tests through the running stack.

It listens on the one loopback host:port the stack allows (FULFILLMENT_WEBHOOK_ALLOWED_HOSTS,
tests/e2e/webhook_inbox.py), keeps every request with the time it came and the status it
answered, and answers each path as told: some failures first, or failures until told
otherwise. Each test uses its own path, so events meant for other endpoints are left out.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from tests.e2e.client import unique
from tests.loopback_receiver import LoopbackReceiver, QuietHandler


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float  # time.monotonic()
    answered: int

    @property
    def event(self) -> dict[str, Any]:
        return json.loads(self.body)  # type: ignore[no-any-return]


class PlatformReceiver(LoopbackReceiver):
    def __init__(self, port: int) -> None:
        self.received: list[Received] = []
        self._failures_left: dict[str, int] = {}
        self._failing: set[str] = set()
        self._slow: dict[str, float] = {}
        self._lock = threading.Lock()
        receiver = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                status = receiver._answer(self.path)
                delay = receiver._slow.get(self.path, 0.0)
                with receiver._lock:
                    receiver.received.append(
                        Received(
                            self.path,
                            {k.lower(): v for k, v in self.headers.items()},
                            body,
                            time.monotonic(),
                            status,
                        )
                    )
                time.sleep(delay)
                self.send_response(status)
                self.end_headers()

        self._serve(Handler, port)
        self.base = f"http://127.0.0.1:{port}"

    def new_path(self) -> str:
        return f"/platform/{unique('ep')}"

    def url(self, path: str) -> str:
        return self.base + path

    def fail_first(self, path: str, times: int) -> None:
        with self._lock:
            self._failures_left[path] = times

    def fail_always(self, path: str, failing: bool = True) -> None:
        with self._lock:
            if failing:
                self._failing.add(path)
            else:
                self._failing.discard(path)

    def slow(self, path: str, seconds: float) -> None:
        """Answer requests to `path` only after `seconds` (they are recorded when they come)."""
        with self._lock:
            self._slow[path] = seconds

    def _answer(self, path: str) -> int:
        with self._lock:
            if path in self._failing:
                return 500
            left = self._failures_left.get(path, 0)
            if left > 0:
                self._failures_left[path] = left - 1
                return 503
        return 204

    def requests(self, path: str, order_id: str | None = None) -> list[Received]:
        with self._lock:
            found = [r for r in self.received if r.path == path]
        if order_id is None:
            return found
        return [r for r in found if r.event["data"]["order_id"] == order_id]


@contextmanager
def running_receiver(port: int) -> Iterator[PlatformReceiver]:
    with PlatformReceiver(port) as receiver:
        yield receiver
