"""What the pure-ASGI middlewares share: a header, the bearer token, and a body read once
and handed on.

Three middlewares look at a body before the route does (the text guard, the idempotency
keeper, the checkout lane); each reads it once and gives the next one the same bytes, so a
webhook's signature still holds over what the route reads.
"""

from __future__ import annotations

from fastapi.security.utils import get_authorization_scheme_param
from starlette.types import Message, Receive, Scope


async def read_body(receive: Receive) -> bytes | None:
    """The whole body, or None when the client left before sending it."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def replaying(body: bytes, receive: Receive) -> Receive:
    """The body, once, to whoever reads next; then the client's own messages (a disconnect)."""
    given = False

    async def replay() -> Message:
        nonlocal given
        if given:
            return await receive()
        given = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


def header(scope: Scope, name: bytes) -> str | None:
    """The first value of a request header (`name` in lower case), or None."""
    for key, value in scope.get("headers", []):
        if key == name:
            return str(value.decode("latin-1"))
    return None


def bearer_token(scope: Scope) -> str | None:
    """The token of `Authorization: Bearer <token>`, read as FastAPI's HTTPBearer reads it,
    or None when there is none."""
    scheme, token = get_authorization_scheme_param(header(scope, b"authorization"))
    if scheme.lower() != "bearer" or not token:
        return None
    return token
