"""The ASGI app: one pipeline (auth, faults, JSON) in front of the Shippo handlers, a clock for
what Shippo does by itself later, and webhook delivery."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from emulators.faults import FaultInjector
from emulators.webhooks import DEFAULT_TIMEOUT_SECONDS

from . import controls, shipments, tracks, transactions
from .calls import Call
from .errors import ShippoAPIError, detail, not_found
from .state import Store
from .webhooks import DEFAULT_RETRY_SCHEDULE, WebhookDispatcher, WebhookSettings

log = logging.getLogger("emulators.shippo")

Handler = Callable[["Emulator", Call], tuple[int, Any]]
Job = Callable[["Emulator", dict[str, Any]], None]

API: list[tuple[str, str, Handler]] = [
    ("POST", "/shipments", shipments.create),
    ("GET", "/shipments", shipments.list_all),
    ("GET", "/shipments/{shipment_id}", shipments.get),
    ("GET", "/shipments/{shipment_id}/rates", shipments.rates),
    ("GET", "/rates/{rate_id}", shipments.get_rate),
    ("POST", "/transactions", transactions.create),
    ("GET", "/transactions", transactions.list_all),
    ("GET", "/transactions/{transaction_id}", transactions.get),
    ("POST", "/tracks", tracks.create),
    ("GET", "/tracks/{carrier}/{tracking_number}", tracks.get),
]
JOBS: dict[str, Job] = {
    "track_step": tracks.run_step,
    "finish_shipment": shipments.run_finish,
    "finish_transaction": transactions.run_finish,
}
DEFAULT_AUTO_ADVANCE_SECONDS = 1.0


class Emulator:
    def __init__(
        self,
        store: Store,
        webhooks: WebhookSettings,
        auto_advance_seconds: float = DEFAULT_AUTO_ADVANCE_SECONDS,
    ) -> None:
        if auto_advance_seconds < 0:
            raise ValueError("auto_advance_seconds must not be negative")
        self.store = store
        self.webhooks = WebhookDispatcher(store, webhooks)
        self.faults = FaultInjector()
        self.auto_advance_seconds = auto_advance_seconds
        self._clock: asyncio.Task[None] | None = None
        self._clock_wake: asyncio.Event | None = None

    def ensure_running(self) -> None:
        """Start the clock and webhook delivery in the running loop, once."""
        self.webhooks.ensure_running()
        loop = asyncio.get_running_loop()
        if self._clock is not None and not self._clock.done() and self._clock.get_loop() is loop:
            return
        self._clock_wake = asyncio.Event()
        self._clock = loop.create_task(self._run_jobs(), name="shippo-emulator-clock")

    async def stop(self) -> None:
        if self._clock is not None:
            self._clock.cancel()
            await asyncio.gather(self._clock, return_exceptions=True)
            self._clock = None
        await self.webhooks.stop()
        # The journal folded into the state file, which then holds everything by itself.
        self.store.close()

    def commit(self) -> None:
        """Keep the change just made (one journal line, whatever the size of the state), then
        let delivery and the clock see it."""
        self.store.save()
        self.webhooks.wake()
        if self._clock_wake is not None:
            self._clock_wake.set()

    async def _run_jobs(self) -> None:
        assert self._clock_wake is not None
        while True:
            self._clock_wake.clear()
            due = self.store.take_due_jobs(time.time())
            for job in due:
                try:
                    JOBS[job["kind"]](self, job)
                except Exception:
                    log.exception("emulator job %s failed", job)
            if due:
                self.commit()
            next_at = self.store.next_job_at()
            delay = None if next_at is None else max(0.0, next_at - time.time())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._clock_wake.wait(), timeout=delay)

    def endpoint(self, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def answer(request: Request) -> Response:
            self.ensure_running()
            try:
                status, body = await self._handle(handler, request)
                headers: dict[str, str] = {}
            except ShippoAPIError as exc:
                status, body, headers = exc.status, exc.body, exc.headers
            except Exception:
                log.exception("shippo emulator failed on %s %s", request.method, request.url.path)
                status, body, headers = 500, {"detail": "The emulator failed unexpectedly."}, {}
            # Serialized now: the answer shows the objects as they were when it was made.
            return Response(
                json.dumps(body), status_code=status, headers=headers, media_type="application/json"
            )

        return answer

    async def _handle(self, handler: Handler, request: Request) -> tuple[int, Any]:
        _check_token(request)
        fault = self.faults.draw(request.method, request.url.path)
        if fault is not None and fault.mode == "error_500":
            raise detail(500, "An emulated error occurred on Shippo's side.")
        if fault is not None and fault.mode == "rate_limit_429":
            raise detail(429, "Request was throttled (emulated).", {"Retry-After": "1"})
        if fault is not None and fault.mode == "timeout_before":
            # Lost on its way in: nothing is done, and the client gives up first.
            await self.faults.hang(fault.timeout_seconds)
            raise detail(504, "The emulated request timed out before reaching Shippo.")
        call = Call(
            method=request.method,
            path=request.url.path,
            base_url=str(request.base_url).rstrip("/"),
            body=await _json_body(request),
            query=dict(request.query_params),
            params={key: str(value) for key, value in request.path_params.items()},
        )
        status, body = handler(self, call)
        if fault is not None and fault.mode == "timeout_after":
            # The work is done and kept; only this answer is lost.
            snapshot = json.loads(json.dumps(body))
            await self.faults.hang(fault.timeout_seconds)
            return status, snapshot
        return status, body


def _check_token(request: Request) -> None:
    scheme, _, key = request.headers.get("authorization", "").partition(" ")
    if not scheme:
        raise detail(401, "Authentication credentials were not provided.")
    if scheme != "ShippoToken" or not key.strip():
        raise detail(401, "Invalid token. Send 'Authorization: ShippoToken <API token>'.")


async def _json_body(request: Request) -> Any:
    if request.method != "POST":
        return None
    raw = await request.body()
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        raise detail(400, "JSON parse error - the body is not valid JSON.") from None


async def _health(_: Request) -> Response:
    return JSONResponse({"status": "ok"})


def create_app(
    state_path: Path | None = None,
    webhook_url: str | None = None,
    *,
    auto_advance_seconds: float = DEFAULT_AUTO_ADVANCE_SECONDS,
    webhook_retry_schedule: Sequence[float] = DEFAULT_RETRY_SCHEDULE,
    webhook_timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
) -> Starlette:
    """The emulator as an ASGI app; ``webhook_retry_schedule`` holds the waits between attempts."""
    settings = WebhookSettings(
        url=webhook_url or None,
        retry_schedule=tuple(webhook_retry_schedule),
        timeout_seconds=webhook_timeout_seconds,
    )
    emulator = Emulator(Store(state_path), settings, auto_advance_seconds)

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        # Started here so that jobs and deliveries left from before a restart go on without
        # waiting for a request; requests also start them, for servers that run no lifespan.
        emulator.ensure_running()
        try:
            yield
        finally:
            await emulator.stop()

    async def unknown(request: Request) -> Response:
        try:
            _check_token(request)
            raise not_found()
        except ShippoAPIError as exc:
            return JSONResponse(exc.body, status_code=exc.status)

    routes = [
        Route("/healthz", _health, methods=["GET"]),
        *controls.routes(emulator),
        # Shippo's own examples end paths with a slash; the SDK does not. Both are answered.
        *(
            Route(route, emulator.endpoint(handler), methods=[method])
            for method, path, handler in API
            for route in (path, f"{path}/")
        ),
        Route("/{path:path}", unknown, methods=["GET", "POST", "PUT", "DELETE"]),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.emulator = emulator
    return app
