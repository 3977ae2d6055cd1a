"""Helpers for the money tests: the emulator's controls and the ledger checks."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

from devstack.stack import DevStack
from jobs.reconcile import Mismatch, Reconciler
from providers.stripe_adapter import StripeGateway
from stores.db import make_engine, make_sessionmaker
from tests.e2e.client import PLATFORM, Seller, onboard, order_body, place, stock_product
from tests.e2e.client import wait_for_order as wait_for_order


def emulator(stack: DevStack) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=stack.env["STRIPE_API_BASE"],
        headers={"Authorization": f"Bearer {stack.env['STRIPE_API_KEY']}"},
        timeout=30,
    )


async def reconcile(stack: DevStack, gateway: StripeGateway, *order_ids: str) -> list[Mismatch]:
    engine = make_engine(stack.env["DATABASE_URL"], pool_size=2)
    try:
        return await Reconciler(make_sessionmaker(engine), gateway).run(list(order_ids))
    finally:
        await engine.dispose()


async def ship_and_deliver(api: httpx.AsyncClient, seller: Seller, vendor_order_id: str) -> None:
    for step, body in (("ship", {"carrier": "ups", "tracking_number": "1Z"}), ("deliver", None)):
        answer = await api.post(
            f"/v1/vendor/orders/{vendor_order_id}/{step}", json=body, headers=seller.auth
        )
        assert answer.status_code == 200, answer.text


async def return_received(
    api: httpx.AsyncClient, seller: Seller, order_id: str, vendor_order_id: str, sku: str
) -> dict[str, Any]:
    """One unit of `sku` returned by the buyer and received by the vendor: the return."""
    opened = await api.post(
        f"/v1/orders/{order_id}/returns",
        json={
            "vendor_order_id": vendor_order_id,
            "lines": [{"sku": sku, "quantity": 1}],
            "reason": "too big",
        },
        headers=PLATFORM,
    )
    assert opened.status_code == 201, opened.text
    received = await api.post(
        f"/v1/vendor/orders/{vendor_order_id}/returns/{opened.json()['id']}/receive",
        headers=seller.auth,
    )
    assert received.status_code == 200, received.text
    found: dict[str, Any] = opened.json()
    return found


async def restrict(control: httpx.AsyncClient, account: str, restricted: bool) -> None:
    answer = await control.post(
        f"/_emulator/accounts/{account}/restrict", json={"restricted": restricted}
    )
    assert answer.status_code == 200, answer.text


async def paid_order(
    api: httpx.AsyncClient, seller: Seller, sku: str, quantity: int = 1
) -> dict[str, Any]:
    """An order of one vendor, shipped, delivered and paid out."""
    order = (await place(api, order_body([(sku, quantity)]))).json()
    await ship_and_deliver(api, seller, order["vendor_orders"][0]["id"])
    return await wait_for_order(api, order["id"], "completed")


async def vendor_order(api: httpx.AsyncClient, order_id: str) -> dict[str, Any]:
    order = (await api.get(f"/v1/orders/{order_id}", headers=PLATFORM)).json()
    return order["vendor_orders"][0]  # type: ignore[no-any-return]


@asynccontextmanager
async def seller_with_stock(
    api: httpx.AsyncClient, name: str, price_cents: int = 5000, on_hand: int = 20
) -> AsyncIterator[tuple[Seller, str]]:
    seller = await onboard(api, name)
    yield seller, await stock_product(api, seller, price_cents=price_cents, on_hand=on_hand)


async def eventually(check: Any, within: float = 20) -> Any:
    """Webhooks and workflows move on their own time: poll until `check()` returns something
    truthy, and return it."""
    for _ in range(int(within / 0.2)):
        found = await check()
        if found:
            return found
        await asyncio.sleep(0.2)
    raise AssertionError("never happened")


@asynccontextmanager
async def payout_refused(
    api: httpx.AsyncClient, stack: DevStack, name: str, price_cents: int = 5000, **vendor: Any
) -> AsyncIterator[tuple[str, dict[str, Any]]]:
    """A vendor (onboarded with `vendor`) whose Stripe account is restricted, one unit of its
    product ordered, shipped and delivered, and its payout refused: the vendor order flagged
    `payout_failed`. Yields the SKU and the order; afterwards the account is lifted, so the
    vendor order goes on to be paid and holds nothing for the tests after it."""
    seller = await onboard(api, name, **vendor)
    sku = await stock_product(api, seller, price_cents=price_cents, on_hand=5)
    order = (await place(api, order_body([(sku, 1)]))).json()
    async with emulator(stack) as control:
        await restrict(control, seller.account, True)
        try:
            await ship_and_deliver(api, seller, order["vendor_orders"][0]["id"])

            async def flagged() -> bool:
                return (await vendor_order(api, order["id"]))["attention"] == "payout_failed"

            await eventually(flagged, within=30)
            yield sku, order
        finally:
            await restrict(control, seller.account, False)
