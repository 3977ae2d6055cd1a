"""What the emulators' own controls under /_emulator share: plain JSON in and out, refusals as
`ControlError`, the fault switches, the webhook settings, the reset, and the routing of a table
of controls."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from emulators.faults import FaultInjector, FaultPlan
from emulators.webhooks import DeliveryQueue


class ControlError(Exception):
    """A refused call to an emulator's own controls, answered as plain JSON."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class HasFaults(Protocol):
    faults: FaultInjector


class Resettable(Protocol):
    def reset(self) -> None: ...


class HasStoreAndWebhooks(HasFaults, Protocol):
    # Read-only, so that an emulator's own store and dispatcher types fit.
    @property
    def store(self) -> Resettable: ...

    @property
    def webhooks(self) -> DeliveryQueue: ...


Control = Callable[[Any, Request], Awaitable[Any]]


async def json_body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw:
        return {}
    try:
        body = json.loads(raw)
    except ValueError:
        raise ControlError(400, "body must be JSON") from None
    if not isinstance(body, dict):
        raise ControlError(400, "body must be a JSON object")
    return body


async def start_faults(emulator: HasFaults, request: Request) -> Any:
    try:
        plan = FaultPlan.parse(await json_body(request))
    except ValueError as exc:
        raise ControlError(400, str(exc)) from None
    emulator.faults.start(plan)
    return emulator.faults.describe()


async def show_faults(emulator: HasFaults, _: Request) -> Any:
    return emulator.faults.describe()


async def stop_faults(emulator: HasFaults, _: Request) -> Any:
    emulator.faults.stop()
    return emulator.faults.describe()


async def configure_webhooks(emulator: HasStoreAndWebhooks, request: Request) -> Any:
    try:
        settings = emulator.webhooks.settings.changed_by(await json_body(request))
    except ValueError as exc:
        raise ControlError(400, str(exc)) from None
    emulator.webhooks.configure(settings)
    return settings.describe()


async def reset(emulator: HasStoreAndWebhooks, _: Request) -> Any:
    """Forget all the store holds and stop the faults; the webhook settings stay."""
    emulator.faults.stop()
    emulator.store.reset()
    return {"reset": True}


# The controls both emulators have; each adds its own to this table.
COMMON_CONTROLS: list[tuple[str, str, Control]] = [
    ("POST", "/_emulator/faults", start_faults),
    ("GET", "/_emulator/faults", show_faults),
    ("DELETE", "/_emulator/faults", stop_faults),
    ("POST", "/_emulator/webhooks/config", configure_webhooks),
    ("POST", "/_emulator/reset", reset),
]


def control_routes(
    emulator: Any, table: Sequence[tuple[str, str, Control]], before: Callable[[], None]
) -> list[Route]:
    """One route per (method, path, control); `before` runs first on every call (the
    emulators start their background work lazily, in the server's loop)."""

    def endpoint(control: Control) -> Callable[[Request], Awaitable[Response]]:
        async def answer(request: Request) -> Response:
            before()
            try:
                return JSONResponse(await control(emulator, request))
            except ControlError as exc:
                return JSONResponse({"error": exc.message}, status_code=exc.status)

        return answer

    return [Route(path, endpoint(control), methods=[method]) for method, path, control in table]
