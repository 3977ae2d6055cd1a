"""The ASGI app: one pipeline (auth, faults, parameters, idempotency) in front of the handlers."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from emulators.faults import FaultInjector
from emulators.webhooks import DEFAULT_TIMEOUT_SECONDS
from stripe._api_version import _ApiVersion

from . import connect, controls, disputes, events, payments, refunds, reversals
from . import params as p
from .errors import StripeAPIError, api_error
from .routing import Endpoint, PathIds, resolve
from .state import Store
from .webhooks import DEFAULT_RETRY_SCHEDULE, WebhookDispatcher, WebhookSettings

log = logging.getLogger("emulators.stripe")

ENDPOINTS: list[Endpoint] = [
    *payments.ENDPOINTS,
    *refunds.ENDPOINTS,
    *connect.ENDPOINTS,
    *reversals.ENDPOINTS,
    *disputes.ENDPOINTS,
    *events.ENDPOINTS,
]


class Emulator:
    def __init__(self, store: Store, webhooks: WebhookSettings) -> None:
        self.store = store
        self.webhooks = WebhookDispatcher(store, webhooks)
        self.faults = FaultInjector()
        self._locks: dict[str, tuple[asyncio.Lock, list[int]]] = {}

    def commit(self) -> None:
        """Queue the events of the change just made, keep it (one journal line, whatever the
        size of the state), then let delivery run."""
        self.webhooks.enqueue(self.store.take_fresh_events())
        self.store.save()
        self.webhooks.wake()

    @contextlib.contextmanager
    def automatic_change(self) -> Iterator[None]:
        """A change Stripe makes by itself (a dispute, say): its events name no request."""
        self.store.request = {"id": None, "idempotency_key": None}
        try:
            yield
        finally:
            self.commit()

    async def api(self, request: Request) -> Response:
        self.webhooks.ensure_running()
        request_id = Store.new_id("req", 14)
        headers = {
            "Request-Id": request_id,
            "Stripe-Version": request.headers.get("stripe-version", _ApiVersion.CURRENT),
        }
        if request.method == "POST" and "idempotency-key" in request.headers:
            headers["Idempotency-Key"] = request.headers["idempotency-key"]
        try:
            status, body, extra = await self._handle(request, request_id)
        except StripeAPIError as exc:
            status, body, extra = exc.status, exc.body(), {}
        except Exception:
            log.exception("stripe emulator failed on %s %s", request.method, request.url.path)
            status, body, extra = 500, api_error("The emulator failed unexpectedly.").body(), {}
        return JSONResponse(body, status_code=status, headers={**headers, **extra})

    async def _handle(
        self, request: Request, request_id: str
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        api_key = _bearer(request)
        drawn = self.faults.draw(request.method, request.url.path)
        fault = drawn.mode if drawn else None
        if fault == "error_500":
            raise api_error("An emulated error occurred on Stripe's side.")
        if fault == "rate_limit_429":
            raise StripeAPIError(
                429, "invalid_request_error", "Too many requests (emulated).", code="rate_limit"
            )
        if fault == "timeout_before":
            # The request is lost on its way in: nothing is done, and the client gives up first.
            await self.faults.hang(drawn.timeout_seconds if drawn else 0)
            raise api_error("The emulated request timed out before reaching Stripe.")
        method, path = request.method, request.url.path
        try:
            endpoint, ids = resolve(ENDPOINTS, method, path)
        except LookupError:
            raise StripeAPIError(
                404, "invalid_request_error", f"Unrecognized request URL ({method}: {path})."
            ) from None
        body = (await request.body()).decode() if method == "POST" else ""
        params = p.decode("&".join(part for part in (request.url.query, body) if part))
        key = request.headers.get("idempotency-key") if method == "POST" else None
        if key:
            scope = Store.idempotency_scope(api_key, method, path, key)
            async with self._key_lock(scope):
                status, answer, extra = self._once(scope, key, endpoint, params, ids, request_id)
        else:
            p.check(params, endpoint.params)
            status, answer = self._execute(endpoint, params, ids, request_id, None)
            extra = {}
            if method == "POST":
                self.commit()
        if fault == "timeout_after":
            # The work is done and its answer kept for a retry; only this reply is lost.
            await self.faults.hang(drawn.timeout_seconds if drawn else 0)
        return status, answer, extra

    def _once(
        self,
        scope: str,
        key: str,
        endpoint: Endpoint,
        params: p.Params,
        ids: PathIds,
        request_id: str,
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        """Run a keyed POST once; later requests with that key get the first answer again."""
        fingerprint = json.dumps(params, sort_keys=True)
        record = self.store.idempotency.get(scope)
        if record is not None:
            if record["params"] != fingerprint:
                raise StripeAPIError(
                    400,
                    "idempotency_error",
                    "Keys for idempotent requests can only be used with the same parameters "
                    "they were first used with. Try using a key other than "
                    f"'{key}' if you meant to execute a different request.",
                )
            replayed = {"Idempotent-Replayed": "true", "Original-Request": record["request_id"]}
            return record["status"], record["body"], replayed
        # Requests refused for their shape never ran, so Stripe keeps no answer for them.
        p.check(params, endpoint.params)
        status, answer = self._execute(endpoint, params, ids, request_id, key)
        self.store.idempotency[scope] = {
            "params": fingerprint,
            "status": status,
            "body": answer,
            "request_id": request_id,
        }
        self.commit()
        return status, answer, {}

    def _execute(
        self,
        endpoint: Endpoint,
        params: p.Params,
        ids: PathIds,
        request_id: str,
        key: str | None,
    ) -> tuple[int, dict[str, Any]]:
        # Handlers never await, so no other request can run between setting this and using it.
        self.store.request = {"id": request_id, "idempotency_key": key}
        try:
            status, answer = 200, endpoint.handler(self.store, params, ids)
        except StripeAPIError as exc:
            status, answer = exc.status, exc.body()
        # A snapshot, so a replay shows the object as it was then, not as it is now.
        return status, json.loads(json.dumps(answer))

    @contextlib.asynccontextmanager
    async def _key_lock(self, scope: str) -> AsyncIterator[None]:
        lock, users = self._locks.setdefault(scope, (asyncio.Lock(), [0]))
        users[0] += 1
        try:
            async with lock:
                yield
        finally:
            users[0] -= 1
            if users[0] == 0:
                del self._locks[scope]


def _bearer(request: Request) -> str:
    scheme, _, key = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise StripeAPIError(
            401,
            "invalid_request_error",
            "You did not provide an API key. You need to provide your API key in the "
            "Authorization header, using Bearer auth "
            "(e.g. 'Authorization: Bearer YOUR_SECRET_KEY').",
        )
    return key.strip()


async def _health(_: Request) -> Response:
    return JSONResponse({"status": "ok"})


def create_app(
    state_path: Path | None = None,
    webhook_url: str | None = None,
    webhook_secret: str | None = None,
    *,
    webhook_retry_schedule: Sequence[float] = DEFAULT_RETRY_SCHEDULE,
    webhook_timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
) -> Starlette:
    """The emulator as an ASGI app; ``webhook_retry_schedule`` holds the waits between attempts."""
    settings = WebhookSettings(
        url=webhook_url or None,
        secret=webhook_secret or None,
        retry_schedule=tuple(webhook_retry_schedule),
        timeout_seconds=webhook_timeout_seconds,
    )
    emulator = Emulator(Store(state_path), settings)

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        # Started here so deliveries left over from before a restart go out without waiting
        # for a request; requests also start it, for servers that run no lifespan.
        emulator.webhooks.ensure_running()
        try:
            yield
        finally:
            await emulator.webhooks.stop()
            # The journal folded into the state file, which then holds everything by itself.
            emulator.store.close()

    routes = [
        Route("/healthz", _health, methods=["GET"]),
        *controls.routes(emulator),
        Route("/v1/{path:path}", emulator.api, methods=["GET", "POST", "DELETE"]),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.emulator = emulator
    return app
