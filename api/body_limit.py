"""Request bodies are limited in size: 413 `payload_too_large` above the limit.

Pure ASGI, before anything reads the body (the text guard, the idempotency keeper, the
checkout lane, FastAPI): a 5 MB body is refused after the first bytes past the limit, never
read whole, parsed or kept. `FULFILLMENT_MAX_BODY_BYTES` (1 MiB) for every route; a route that
takes bulk bodies gets its own limit in LARGER_BODIES.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.asgi import header, replaying
from api.errors import problem_response
from domain.errors import ErrorCode

DEFAULT_MAX_BODY_BYTES = 1024 * 1024
# (method, path) -> the setting that holds the largest body that route takes, when it must be
# larger than FULFILLMENT_MAX_BODY_BYTES (a bulk feed). Exact paths: the routes that need it
# have no parameters.
LARGER_BODIES: dict[tuple[str, str], str] = {
    # A stock feed of up to 100,000 rows (FULFILLMENT_FEED_MAX_BYTES, api/routers/stock_feeds.py)
    ("POST", "/v1/inventory/feeds"): "feed_max_bytes",
}
# A refused body is read on (and dropped) up to this much, so the client, still sending,
# reads the 413 rather than a connection reset; past it the connection is closed.
DRAIN_AT_MOST = 16 * 1024 * 1024


class BodyLimit:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = limit_for(scope)
        declared = _declared_length(scope)
        if declared is not None and declared > limit:
            await _refuse(limit, scope, receive, send, more=declared <= DRAIN_AT_MOST)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # the client left before sending its request
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                more = bool(message.get("more_body", False))
                await _refuse(limit, scope, receive, send, more=more)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        await self.app(scope, replaying(b"".join(chunks), receive), send)


def limit_for(scope: Scope) -> int:
    settings = getattr(scope["app"].state, "settings", None)
    larger = LARGER_BODIES.get((scope["method"], scope["path"]))
    if larger is not None and settings is not None:
        return int(getattr(settings, larger))
    return int(getattr(settings, "max_body_bytes", DEFAULT_MAX_BODY_BYTES))


def _declared_length(scope: Scope) -> int | None:
    value = (header(scope, b"content-length") or "").strip()
    return int(value) if value.isdigit() else None


async def _refuse(limit: int, scope: Scope, receive: Receive, send: Send, *, more: bool) -> None:
    drained = await _drain(receive) if more else True
    response = problem_response(
        ErrorCode.PAYLOAD_TOO_LARGE,
        f"the request body is larger than this route takes ({limit} bytes)",
        max_bytes=limit,
    )
    if not drained:
        response.headers["Connection"] = "close"
    await response(scope, receive, send)


async def _drain(receive: Receive) -> bool:
    """Read the rest of the body and drop it; False when it was more than DRAIN_AT_MOST."""
    read = 0
    while read <= DRAIN_AT_MOST:
        message: Message = await receive()
        if message["type"] == "http.disconnect":
            return True
        read += len(message.get("body", b""))
        if not message.get("more_body", False):
            return True
    return False
