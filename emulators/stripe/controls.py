"""The emulator's own controls under /_emulator: plain JSON, never subject to injected faults."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.routing import Route

from emulators.controls import COMMON_CONTROLS, Control, ControlError, control_routes, json_body

from . import balances, disputes, refunds

if TYPE_CHECKING:
    from .app import Emulator


async def dump(emulator: Emulator, _: Request) -> Any:
    return emulator.store.dump()


def _account(emulator: Emulator, request: Request) -> str:
    account_id = request.path_params["account"]
    if emulator.store.get("account", account_id) is None:
        raise ControlError(404, f"no such account: {account_id}")
    return str(account_id)


async def show_balance(emulator: Emulator, request: Request) -> Any:
    return balances.describe(emulator.store, _account(emulator, request))


async def set_balance(emulator: Emulator, request: Request) -> Any:
    account_id = _account(emulator, request)
    available = (await json_body(request)).get("available")
    if isinstance(available, bool) or not isinstance(available, int) or available < 0:
        raise ControlError(400, "available must be a non-negative integer of minor units")
    balances.set_available(emulator.store, account_id, available)
    emulator.commit()
    return balances.describe(emulator.store, account_id)


async def restrict(emulator: Emulator, request: Request) -> Any:
    account_id = _account(emulator, request)
    restricted = (await json_body(request)).get("restricted", True)
    if not isinstance(restricted, bool):
        raise ControlError(400, "restricted must be true or false")
    account = emulator.store.get("account", account_id)
    assert account is not None
    balances.restrict(emulator.store, account, restricted)
    emulator.commit()
    return balances.describe(emulator.store, account_id)


async def open_dispute(emulator: Emulator, request: Request) -> Any:
    body = await json_body(request)
    with emulator.automatic_change():
        return disputes.open_dispute(emulator.store, body)


async def close_dispute(emulator: Emulator, request: Request) -> Any:
    body = await json_body(request)
    with emulator.automatic_change():
        return disputes.close_dispute(emulator.store, request.path_params["dispute"], body)


async def move_refund(emulator: Emulator, request: Request) -> Any:
    body = await json_body(request)
    with emulator.automatic_change():
        return refunds.move_refund(emulator.store, request.path_params["refund"], body)


async def show_webhooks(emulator: Emulator, request: Request) -> Any:
    query = request.query_params
    deliveries = emulator.webhooks.deliveries(query.get("event"), query.get("status"))
    return {**emulator.webhooks.settings.describe(), "deliveries": deliveries}


async def resend_event(emulator: Emulator, request: Request) -> Any:
    return await emulator.webhooks.resend(request.path_params["event"])


def routes(emulator: Emulator) -> list[Route]:
    table: list[tuple[str, str, Control]] = [
        *COMMON_CONTROLS,
        ("GET", "/_emulator/state", dump),
        ("GET", "/_emulator/accounts/{account}/balance", show_balance),
        ("POST", "/_emulator/accounts/{account}/balance", set_balance),
        ("POST", "/_emulator/accounts/{account}/restrict", restrict),
        ("POST", "/_emulator/disputes", open_dispute),
        ("POST", "/_emulator/disputes/{dispute}/close", close_dispute),
        ("POST", "/_emulator/refunds/{refund}/status", move_refund),
        ("GET", "/_emulator/webhooks", show_webhooks),
        ("POST", "/_emulator/events/{event}/resend", resend_event),
    ]
    return control_routes(emulator, table, emulator.webhooks.ensure_running)
