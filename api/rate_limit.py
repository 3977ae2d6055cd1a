"""Requests per API key, limited by the key's role (docs/api-protection.md).

Pure ASGI, outside every middleware that keeps or starts anything (the body limit, the text
guard, the checkout lane, the idempotency keeper): a refused request has no idempotency record,
no hold in the stock gate, no workflow. One Redis round trip per request (stores/rate_limits.py).

Whose budget a request spends, decided without the database:
- a platform or ops key of the settings: that key's own bucket, the role's limit;
- a token shaped like a vendor key: that key's bucket, the vendor limit (the route's
  authentication then says whether the key exists);
- no token, or one that is neither: the client address's bucket, the anonymous limit (a
  client guessing keys spends one budget, however many keys it tries).
Provider webhooks (signed or tokened, and Stripe or Shippo would only retry a refusal),
`/healthz` and `/metrics` spend nothing.

Every answer carries the IETF `RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset`
(and `RateLimit-Policy`); a refusal is 429 `rate_limited` with `Retry-After`. When Redis does
not answer the limiter stands aside for a few seconds rather than refuse everything: the
routes that need Redis answer 503 on their own.
"""

from __future__ import annotations

import hashlib
import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.asgi import bearer_token
from api.auth import Role, bootstrap_role, looks_like_vendor_key
from api.errors import REDIS_DOWN, problem_response
from domain.errors import ErrorCode
from models.settings import Settings
from stores.rate_limits import RateLimits, Verdict

log = logging.getLogger("fulfillment.api")

UNCOUNTED_PATHS = frozenset({"/healthz", "/metrics"})
UNCOUNTED_PREFIX = "/v1/webhooks/"
ANONYMOUS = "anonymous"
# After Redis failed to answer, requests pass uncounted this long before it is asked again.
STAND_ASIDE_SECONDS = 5.0
_HEADERS = (b"ratelimit-limit", b"ratelimit-remaining", b"ratelimit-reset", b"ratelimit-policy")


def counted(path: str) -> bool:
    return path not in UNCOUNTED_PATHS and not path.startswith(UNCOUNTED_PREFIX)


def bucket_of(scope: Scope, settings: Settings) -> tuple[str, int]:
    """The bucket this request spends from (never the key itself: a digest) and its limit."""
    token = bearer_token(scope)
    if token is not None:
        role = bootstrap_role(token, settings)
        if role is None and looks_like_vendor_key(token):
            role = Role.VENDOR
        if role is not None:
            digest = hashlib.sha256(token.encode()).hexdigest()[:32]
            return f"{role}:{digest}", _limit(role, settings)
    client = scope.get("client")
    address = client[0] if client else "unknown"
    return f"{ANONYMOUS}:{address}", settings.rate_limit_anonymous


def _limit(role: Role, settings: Settings) -> int:
    if role == Role.PLATFORM:
        return settings.rate_limit_platform
    if role == Role.OPS:
        return settings.rate_limit_ops
    return settings.rate_limit_vendor


def headers_of(verdict: Verdict, window_seconds: float) -> list[tuple[bytes, bytes]]:
    return [
        (b"ratelimit-limit", str(verdict.limit).encode()),
        (b"ratelimit-remaining", str(verdict.remaining).encode()),
        (b"ratelimit-reset", str(verdict.reset).encode()),
        (b"ratelimit-policy", f"{verdict.limit};w={round(window_seconds)}".encode()),
    ]


class RateLimit:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._aside_until = 0.0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not counted(scope["path"]):
            await self.app(scope, receive, send)
            return
        # Set in the app's lifespan, with the Redis client it uses.
        limits: RateLimits | None = getattr(scope["app"].state, "rate_limits", None)
        if limits is None:
            await self.app(scope, receive, send)
            return
        verdict = await self._verdict(scope, limits)
        if verdict is None:
            await self.app(scope, receive, send)
            return
        settings: Settings = scope["app"].state.settings
        headers = headers_of(verdict, settings.rate_limit_window.total_seconds())
        if not verdict.allowed:
            refusal = problem_response(
                ErrorCode.RATE_LIMITED,
                f"too many requests from this caller: {verdict.limit} per "
                f"{round(settings.rate_limit_window.total_seconds())} s; "
                f"retry in {verdict.retry_after} s",
                retry_after=verdict.retry_after,
                limit=verdict.limit,
            )
            refusal.headers["Retry-After"] = str(verdict.retry_after)
            for name, value in headers:
                refusal.headers[name.decode()] = value.decode()
            await refusal(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                # Replaced, not added: an answer replayed for an Idempotency-Key tells the
                # budget of now, not of its first time.
                kept = [(k, v) for k, v in message.get("headers", []) if k.lower() not in _HEADERS]
                message = {**message, "headers": kept + headers}
            await send(message)

        await self.app(scope, receive, with_headers)

    async def _verdict(self, scope: Scope, limits: RateLimits) -> Verdict | None:
        if time.monotonic() < self._aside_until:
            return None
        settings: Settings = scope["app"].state.settings
        bucket, limit = bucket_of(scope, settings)
        try:
            return await limits.take(bucket, limit, settings.rate_limit_window.total_seconds())
        except REDIS_DOWN as error:
            self._aside_until = time.monotonic() + STAND_ASIDE_SECONDS
            log.warning(
                "rate limits: Redis is not answering (%s); requests pass uncounted for %.0f s",
                type(error).__name__,
                STAND_ASIDE_SECONDS,
            )
            return None
