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

Here: the middleware, which claims the key, runs the route and keeps its answer. Which routes
take a key and how: api/idempotency_routes.py; the answer kept, sealed and sent again:
api/idempotency_answers.py; the header in the OpenAPI document: api/idempotency_openapi.py.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from datetime import timedelta
from typing import Any

from fastapi import FastAPI
from fastapi.security import HTTPAuthorizationCredentials
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from api.asgi import bearer_token, header, read_body, replaying
from api.auth import Role
from api.deps import _principal as resolve_principal
from api.errors import Problem, problem_response
from api.idempotency_answers import Capture, Sealing, send_answer
from api.idempotency_openapi import document
from api.idempotency_routes import HEADER, MUTATING, Policy, Route, routes_of
from api.sealed_answers import Unsealable
from domain.errors import ErrorCode
from domain.idempotency import key_problem, request_fingerprint
from stores.idempotency import Claim, IdempotencyStore

log = logging.getLogger("fulfillment.api")

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
        sealing = Sealing(_bearer_token(scope), caller, key)
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
                await send_answer(send, first, replayed=True)
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
        sealing: Sealing,
    ) -> None:
        captured = Capture()
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
        await send_answer(send, answer, replayed=False)


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


def install(app: FastAPI, *, in_flight_wait: float = IN_FLIGHT_WAIT_SECONDS) -> None:
    """Add the middleware and document the header. Call it before other middleware is added:
    those added later wrap it and see its replays too (the request metrics do)."""
    app.add_middleware(IdempotencyMiddleware, in_flight_wait=in_flight_wait)
    document(app)
