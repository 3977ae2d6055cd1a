"""`Idempotency-Key` on every mutating route (issue 9, item 14; an extension of API.md).

A vendor app whose `ship` answer was lost sends the request again; without this, the retry
meets a vendor order that is already shipped and gets 409. With a key:
- the same key and request (method, path, query, body) answer the first answer again
  (status, body, headers), however often and however concurrently sent;
- the same key with another request is 422 `idempotency_key_reused`;
- keys belong to the caller (platform, ops, or one vendor): two vendors never meet;
- 2xx and 4xx answers are kept for `FULFILLMENT_IDEMPOTENCY_RETENTION` (24 h); a 5xx or a
  429 is not, so its retry runs again.

Routes left out: the provider webhooks (idempotent by event id) and checkout (its key names
the order and its saga; it is also the flash-sale hot path). Routes that declare the header
themselves (returns, operators' refunds) answer their own retries; here their key is only
bound to its first request, so another request under it is 422 as everywhere else.
"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from enum import Enum
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.security import HTTPAuthorizationCredentials
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.responses import Response
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.asgi import bearer_token, header, read_body, replaying
from api.auth import Role
from api.deps import _principal as resolve_principal
from api.errors import Problem, problem_response
from api.sealed_answers import Unsealable, open_sealed, seal
from domain.errors import ErrorCode
from domain.idempotency import MAX_KEY_LENGTH, key_problem, request_fingerprint
from stores.idempotency import Answer, Claim, IdempotencyStore

log = logging.getLogger("fulfillment.api")

HEADER = "Idempotency-Key"
MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Checkout keys its order by the key itself (domain.ids.order_id_for_idempotency_key).
OWN_KEYS = frozenset({("POST", "/v1/orders")})
WEBHOOKS = "/v1/webhooks/"

# A retry that meets its first request still running waits this long for its answer: a
# ship or a cancel takes a second or two, a label purchase a few more.
IN_FLIGHT_WAIT_SECONDS = 10.0
RETRY_AFTER_SECONDS = 1
# With PostgreSQL down the answer is the one api.errors gives for the routes themselves.
DATABASE_RETRY_AFTER_SECONDS = 5
# A claim whose holder stopped renewing it (the API process died mid-request) is taken over
# by the next retry of the same request after this long; a live holder renews it.
LEASE = timedelta(seconds=60)
RENEW_EVERY_SECONDS = 20.0
_DATABASE_DOWN = (OperationalError, InterfaceError, PoolTimeoutError, OSError)


class Policy(Enum):
    REPLAY = "replay"  # keep the answer and give it to every retry
    BIND = "bind"  # the route answers its retries itself: only refuse another request


@dataclass(frozen=True)
class Route:
    method: str
    path_format: str
    pattern: re.Pattern[str]
    policy: Policy | None


def routes_of(app: FastAPI) -> list[Route]:
    """The app's mutating routes, in the order FastAPI tries them, with their policy."""
    found: list[Route] = []
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if not isinstance(route, APIRoute) or context.path_format is None:
            continue
        pattern, path_format, _ = compile_path(context.path_format)
        for method in sorted((context.methods or set()) & MUTATING):
            found.append(Route(method, path_format, pattern, _policy(route, method, path_format)))
    return found


def _policy(route: APIRoute, method: str, path_format: str) -> Policy | None:
    if not path_format.startswith("/v1/") or path_format.startswith(WEBHOOKS):
        return None
    if (method, path_format) in OWN_KEYS:
        return None
    return Policy.BIND if _declares_key(route.dependant) else Policy.REPLAY


def _declares_key(dependant: Dependant) -> bool:
    if any(field.alias.lower() == HEADER.lower() for field in dependant.header_params):
        return True
    return any(_declares_key(sub) for sub in dependant.dependencies)


class IdempotencyMiddleware:
    """Pure ASGI (not BaseHTTPMiddleware): it reads the body once and hands it on, and keeps
    the answer before it is sent, so a client that has seen it can only be replayed it."""

    def __init__(self, app: ASGIApp, *, in_flight_wait: float = IN_FLIGHT_WAIT_SECONDS) -> None:
        self.app = app
        self.in_flight_wait = in_flight_wait
        self._routes: list[Route] | None = None

    def _policy(self, scope: Scope) -> Policy | None:
        if self._routes is None:
            # Built on the first request: every router is included by then.
            self._routes = routes_of(scope["app"])
        for route in self._routes:
            if route.method == scope["method"] and route.pattern.match(scope["path"]):
                return route.policy
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        key = header(scope, b"idempotency-key") if scope["type"] == "http" else None
        mutating = key is not None and scope["method"] in MUTATING
        policy = self._policy(scope) if mutating else None
        if key is None or policy is None:
            await self.app(scope, receive, send)
            return
        try:
            caller = await _caller(scope)
        except _DATABASE_DOWN:
            await _database_down(scope, receive, send)
            return
        if caller is None:
            # No valid API key: the route answers 401, and there is no one to keep it for.
            await self.app(scope, receive, send)
            return
        problem = key_problem(key)
        if problem is not None:
            await problem_response(
                ErrorCode.VALIDATION_ERROR,
                f"{HEADER} {problem}",
                errors=[{"loc": ["header", HEADER], "msg": problem, "type": "value_error"}],
            )(scope, receive, send)
            return
        body = await read_body(receive)
        if body is None:
            return  # the client left before sending its request
        await self._answer(scope, replaying(body, receive), send, caller, key, policy, body)

    async def _answer(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        caller: str,
        key: str,
        policy: Policy,
        body: bytes,
    ) -> None:
        app_state = scope["app"].state
        store = IdempotencyStore(app_state.sessions)
        method, path = scope["method"], scope["path"]
        query = scope.get("query_string", b"").decode("latin-1")
        fingerprint = request_fingerprint(method, path, query, body)
        claim = Claim(caller, key, secrets.token_hex(16))
        sealing = _Sealing(_bearer_token(scope), caller, key)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.in_flight_wait
        pause = 0.02
        while True:
            try:
                won = await store.claim(
                    claim,
                    method=method,
                    path=_printable(path),
                    fingerprint=fingerprint,
                    lease=LEASE,
                    retention=app_state.settings.idempotency_retention,
                )
                record = None if won else await store.find(caller, key)
            except _DATABASE_DOWN:
                await _database_down(scope, receive, send)
                return
            if won:
                await self._run_claimed(store, claim, policy, scope, receive, send, sealing)
                return
            if record is not None and record.fingerprint != fingerprint:
                await problem_response(
                    ErrorCode.IDEMPOTENCY_KEY_REUSED,
                    f"this {HEADER} was used for another request",
                    first_request=f"{record.method} {record.path}",
                )(scope, receive, send)
                return
            if record is not None and record.answer is not None:
                try:
                    first = sealing.open(record.answer)
                except Unsealable:
                    await problem_response(
                        ErrorCode.IDEMPOTENCY_KEY_REUSED,
                        f"this {HEADER} was answered to another API key of yours (was it "
                        f"rotated?); its answer cannot be given again: use a new {HEADER}",
                    )(scope, receive, send)
                    return
                await _send_answer(send, first, replayed=True)
                return
            if record is not None and (record.completed or policy is Policy.BIND):
                await self.app(scope, receive, send)
                return
            if loop.time() >= deadline:
                # Neither 409 nor a wait without end: 409 `invalid_state` is a final word
                # about the resource, and a vendor app would stop retrying a ship that is in
                # fact going through (the very bug this module fixes). The request is neither
                # refused nor done: 503 with Retry-After says "send the same request again",
                # which clients already do for 5xx, as the vendor routes do while a workflow
                # is being set up.
                await _unavailable(
                    f"a request with this {HEADER} is still being answered", scope, receive, send
                )
                return
            await asyncio.sleep(pause)
            pause = min(pause * 2, 0.25)

    async def _run_claimed(
        self,
        store: IdempotencyStore,
        claim: Claim,
        policy: Policy,
        scope: Scope,
        receive: Receive,
        send: Send,
        sealing: _Sealing,
    ) -> None:
        captured = _Capture()
        keeper = asyncio.create_task(_keep(store, claim))
        try:
            await self.app(scope, receive, captured.send)
        except BaseException:
            # Not answered (a bug, or the client went away): a retry must run it again.
            keeper.cancel()
            await _quietly(store.release(claim))
            raise
        keeper.cancel()
        answer = captured.answer()
        if answer is None:
            await _quietly(store.release(claim))
            return
        try:
            if answer.status >= 500 or answer.status == 429:
                await store.release(claim)
            else:
                kept = sealing.seal(answer) if policy is Policy.REPLAY else None
                await store.complete(claim, kept)
        except _DATABASE_DOWN:
            # The work is done: its answer still goes out. The claim runs out after LEASE and
            # the routes' own state checks stand behind a retry after that.
            log.warning("idempotency: could not keep the answer for %s", claim.key)
        await _send_answer(send, answer, replayed=False)


@dataclass(frozen=True)
class _Sealing:
    """Seals the answers kept for one caller's key, and opens them for its retries
    (api/sealed_answers.py)."""

    token: str
    scope: str
    key: str

    def seal(self, answer: Answer) -> Answer:
        return Answer(answer.status, answer.headers, seal(answer.body, **self._context(answer)))

    def open(self, answer: Answer) -> Answer:
        body = open_sealed(answer.body, **self._context(answer))
        return Answer(answer.status, answer.headers, body)

    def _context(self, answer: Answer) -> dict[str, Any]:
        # What the seal is bound to: the caller, its key, and the answer's status and headers.
        return {
            "token": self.token,
            "scope": self.scope,
            "idempotency_key": self.key,
            "status": answer.status,
            "headers": answer.headers,
        }


class _Capture:
    """Holds the route's answer until it is kept: a client that has seen an answer and
    retries is then sure to be given that answer."""

    def __init__(self) -> None:
        self.start: Message | None = None
        self.body = bytearray()

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.start = message
        elif message["type"] == "http.response.body":
            self.body.extend(message.get("body", b""))

    def answer(self) -> Answer | None:
        if self.start is None:
            return None
        headers = [
            (name.decode("latin-1"), value.decode("latin-1"))
            for name, value in self.start.get("headers", [])
        ]
        return Answer(int(self.start["status"]), headers, bytes(self.body))


async def _send_answer(send: Send, answer: Answer, *, replayed: bool) -> None:
    headers = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in answer.headers]
    if replayed:
        # As Stripe does: the client can tell a replay from a fresh answer.
        headers.append((b"idempotent-replayed", b"true"))
    await send({"type": "http.response.start", "status": answer.status, "headers": headers})
    await send({"type": "http.response.body", "body": answer.body})


async def _unavailable(detail: str, scope: Scope, receive: Receive, send: Send) -> None:
    await _problem_503(f"{detail}; send the same request again", RETRY_AFTER_SECONDS)(
        scope, receive, send
    )


async def _database_down(scope: Scope, receive: Receive, send: Send) -> None:
    log.warning("idempotency: the database is not answering")
    detail = "the database is not answering; retry in a few seconds"
    await _problem_503(detail, DATABASE_RETRY_AFTER_SECONDS)(scope, receive, send)


def _problem_503(detail: str, retry_after: int) -> Response:
    response = problem_response(ErrorCode.UNAVAILABLE, detail, retry_after=retry_after)
    response.headers["Retry-After"] = str(retry_after)
    return response


async def _keep(store: IdempotencyStore, claim: Claim) -> None:
    while True:
        await asyncio.sleep(RENEW_EVERY_SECONDS)
        try:
            await store.renew(claim, LEASE)
        except _DATABASE_DOWN:
            log.warning("idempotency: could not renew the claim on %s", claim.key)


async def _quietly(write: Any) -> None:
    """Run a clean-up write to the end even if this task is being cancelled."""
    try:
        await asyncio.shield(write)
    except _DATABASE_DOWN:
        log.warning("idempotency: could not release a claim")


def _bearer_token(scope: Scope) -> str:
    # Only called once _caller has accepted this very token.
    return bearer_token(scope) or ""


async def _caller(scope: Scope) -> str | None:
    """The key's owner: "platform", "ops" or "vendor:<id>" (api.deps decides who that is)."""
    token = bearer_token(scope)
    if token is None:
        return None
    state = scope["app"].state
    async with state.sessions() as session:
        try:
            principal = await resolve_principal(
                state.settings,
                session,
                HTTPAuthorizationCredentials(scheme="Bearer", credentials=token),
            )
        except Problem:
            return None
    if principal.role == Role.VENDOR:
        return f"vendor:{principal.vendor_id}"
    return str(principal.role)


def _printable(path: str) -> str:
    # Kept for people to read: PostgreSQL text holds no NUL, and the column is bounded.
    return path.replace("\0", "\\x00")[:1000]


# --- OpenAPI: integrators see the header on every route that takes it ---

PARAMETER: dict[str, Any] = {
    "name": HEADER,
    "in": "header",
    "required": False,
    "schema": {"type": "string", "minLength": 1, "maxLength": MAX_KEY_LENGTH, "title": HEADER},
    "description": (
        "Optional. Sending the same request again with the same key answers the first answer"
        " again (status, body and headers, marked `Idempotent-Replayed: true`) for"
        " FULFILLMENT_IDEMPOTENCY_RETENTION (24 h by default); the same key with another"
        " request is 422 `idempotency_key_reused`; while the first is still running, a retry"
        " waits for it, or is 503 `unavailable` with Retry-After. Keys are per caller; 5xx"
        " and 429 answers are not kept."
    ),
}


# What a retry with the key means where it matters most (issue 9, item 13).
NOTES = {
    ("POST", "/v1/vendors"): (
        " Onboarding sent again with the same key answers the same vendor, API key and Stripe"
        " account, and opens no second account; without a key, a retry is a new vendor."
    ),
}


def _document(app: FastAPI) -> None:
    build: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = build()
        for route in routes_of(app):
            operation = schema.get("paths", {}).get(route.path_format, {}).get(route.method.lower())
            if operation is not None and route.policy is Policy.REPLAY:
                parameter = dict(PARAMETER)
                parameter["description"] += NOTES.get((route.method, route.path_format), "")
                operation.setdefault("parameters", []).append(parameter)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def install(app: FastAPI, *, in_flight_wait: float = IN_FLIGHT_WAIT_SECONDS) -> None:
    """Add the middleware and document the header. Call it before other middleware is added:
    those added later wrap it and see its replays too (the request metrics do)."""
    app.add_middleware(IdempotencyMiddleware, in_flight_wait=in_flight_wait)
    _document(app)
