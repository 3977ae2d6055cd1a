"""Per-request counts and latency for Prometheus, and a `Server-Timing` header on every answer.

Pure ASGI: Starlette's `@app.middleware("http")` runs each request through a task group and
memory streams, a cost every request paid, refusals in a flash sale included (issue 10).
`Server-Timing: app;dur=<ms>` (W3C Server Timing) is the time from the request reaching the
app to its answer starting: a client (browser devtools, bench.flash_sale) subtracts it from
what it waited to see how long it queued before the app saw it.
"""

from __future__ import annotations

import time

from prometheus_client import Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUESTS = Counter("fulfillment_http_requests_total", "HTTP requests", ["route", "status"])
LATENCY = Histogram("fulfillment_http_request_seconds", "HTTP request latency", ["route"])
SERVER_TIMING = b"server-timing"
# The route template of an answer given before the router matched one (api/checkout_lane.py).
ROUTE = "fulfillment.route"


def server_timing(seconds: float) -> bytes:
    return f"app;dur={seconds * 1000:.1f}".encode()


def app_milliseconds(header: str | None) -> float | None:
    """The `app` duration of a Server-Timing header, in milliseconds (None if absent)."""
    for metric in (header or "").split(","):
        name, *params = (part.strip() for part in metric.split(";"))
        if name != "app":
            continue
        for param in params:
            key, _, value = param.partition("=")
            if key.strip() == "dur":
                try:
                    return float(value)
                except ValueError:
                    return None
    return None


class RequestMetrics:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the server answers if the app fails before starting an answer

        async def timed(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((SERVER_TIMING, server_timing(time.perf_counter() - started)))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, timed)
        finally:
            # The router writes the matched route into the scope it was given (this one).
            route = getattr(scope.get("route"), "path", None) or scope.get(ROUTE, "unmatched")
            REQUESTS.labels(route, str(status)).inc()
            LATENCY.labels(route).observe(time.perf_counter() - started)
