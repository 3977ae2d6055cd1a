"""Each request's log context (models/logs.py): its trace id, and the order or vendor order it
is about, on every line logged while it runs, ending with one line for the request itself.

`trace_id`: with traces on (FULFILLMENT_TRACES, models/tracing.py), the trace of the
request's span, which the workflow, its activities and their lines share. With traces off, the
trace id of the request's W3C `traceparent` header when it has one (a storefront or gateway
that traces), so our lines join that trace; otherwise a random id of the same shape, made
here, which still ties one request's lines together.

The request's own line replaces uvicorn's access line (cli.py turns that off): uvicorn writes
it before the route has finished, without the ids or the time the request took.
"""

from __future__ import annotations

import logging
import re
import time
import uuid

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from models.logs import annotate, bound
from models.tracing import current_trace_id, name_current_span

log = logging.getLogger("fulfillment.api")

# version "-" trace-id "-" parent-id "-" flags (W3C Trace Context, level 1); version ff and
# an all-zero trace id are invalid.
_TRACEPARENT = re.compile(r"^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")


def trace_id_of(traceparent: str | None) -> str | None:
    """The trace id of a valid `traceparent` header, else None."""
    match = _TRACEPARENT.match((traceparent or "").strip().lower())
    if match is None or match[1] == "ff" or match[2] == "0" * 32 or match[3] == "0" * 16:
        return None
    return match[2]


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return str(value.decode("latin-1"))
    return None


class _Answer:
    """Notes the status of the answer as it passes, and when the request began."""

    def __init__(self, send: Send) -> None:
        self._send = send
        self.began = time.perf_counter()
        self.status = 500  # what the server answers if the app fails before starting one
        self.context: dict[str, str] = {}

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
            # What the route learnt (the order it made) names the request's span too; now,
            # as the span ends with the answer's last byte.
            name_current_span(self.context)
        await self._send(message)


def log_context(app: ASGIApp) -> ASGIApp:
    """Pure ASGI, outermost: the context covers every other middleware's lines too."""

    async def with_context(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await app(scope, receive, send)
        answer = _Answer(send)
        # The request's span's trace when traces are on (the same as the caller's
        # traceparent when it sent one); else the caller's; else one of its own.
        trace_id = (
            current_trace_id() or trace_id_of(_header(scope, b"traceparent")) or uuid.uuid4().hex
        )
        with bound(trace_id=trace_id) as answer.context:
            try:
                await app(scope, receive, answer.send)
            finally:
                elapsed = (time.perf_counter() - answer.began) * 1000
                log.info("%s %s %d %.1fms", scope["method"], scope["path"], answer.status, elapsed)

    return with_context


async def name_path_ids(request: Request) -> None:
    """A dependency of every route: the order or vendor order in its path joins the context."""
    params = request.path_params
    annotate(order_id=params.get("order_id"), vendor_order_id=params.get("vendor_order_id"))
