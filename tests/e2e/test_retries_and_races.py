"""Retries and races the storefront, the vendor app and the carrier cause without meaning to:
a checkout retried while its saga is still at work, a vendor order whose workflow has not
started yet, and a carrier's DELIVERED that arrives while `ship` is still registering the
parcel. Each gets its true answer, never a refusal for a state that is in fact correct."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from devstack.stack import DevStack
from domain.ids import order_id_for_idempotency_key
from providers.stripe_adapter import StripeGateway
from stores.db import connect_redis, execute_sql, make_engine, make_sessionmaker
from stores.stock_gate import StockGate
from tests.e2e.client import OPS, PLATFORM, inventory, onboard, order_body, place, stock_product
from tests.e2e.money import emulator, paid_order


async def _until(check: Any, within: float = 20) -> Any:
    deadline = asyncio.get_running_loop().time() + within
    while True:
        value = await check()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.1)


@pytest.mark.parametrize("gate_forgot", [False, True], ids=["gate_remembers", "gate_forgot"])
async def test_a_checkout_retried_while_its_saga_is_still_charging_attaches_to_it_never_to_the_gate(
    api: httpx.AsyncClient, stack: DevStack, gate_forgot: bool
) -> None:
    # Given the last two units, and a card charge that fails four times before it answers
    seller = await onboard(api, "Retried")
    sku = await stock_product(api, seller, price_cents=1500, on_hand=2)
    body, key = order_body([(sku, 2)]), uuid.uuid4().hex
    async with emulator(stack) as stripe:
        faults = await stripe.post(
            "/_emulator/faults",
            json={
                "rate": 1.0,
                "modes": ["error_500"],
                "methods": ["POST"],
                "paths": ["/v1/payment_intents"],
                "count": 4,
            },
        )
        assert faults.status_code == 200, faults.text
        try:
            first = asyncio.create_task(place(api, body, key))
            # ... the saga has reserved both units and is retrying the charge
            await _until(lambda: _reserved(api, sku, 2))
            # ... and the first attempt's answer was lost (its gate hold settled, as after a 504)
            redis = connect_redis(stack.env["REDIS_URL"])
            order_id = order_id_for_idempotency_key("platform", key)
            try:
                await StockGate(redis).settle(order_id)
                if gate_forgot:
                    # ... and Redis lost the gate's memory of it (a restart, an eviction):
                    # the order store still knows the order is at work
                    forgotten = await redis.delete(*await redis.keys(f"*admitted:{order_id}"))
                    assert forgotten == 1
            finally:
                await redis.aclose()
            # When the client retries with the same key while the saga still works
            retry = await place(api, body, key)
            answered = await first
        finally:
            await stripe.delete("/_emulator/faults")
    # Then both get the one confirmed order: the retry is not refused by its own units
    assert (retry.status_code, answered.status_code) == (201, 201), retry.text
    assert retry.json()["id"] == answered.json()["id"]
    assert retry.json()["status"] == "confirmed"
    level = await inventory(api, sku)
    assert (level["on_hand"], level["reserved"], level["available"]) == (2, 2, 0)
    # And another buyer is still refused: the retry took nothing twice
    other = await place(api, order_body([(sku, 1)]))
    assert other.status_code == 409, other.text


async def _reserved(api: httpx.AsyncClient, sku: str, units: int) -> bool:
    return bool((await inventory(api, sku))["reserved"] == units)


async def test_a_vendor_order_whose_workflow_has_not_started_answers_503_with_retry_after_not_409(
    api: httpx.AsyncClient, stack: DevStack
) -> None:
    # Given a confirmed vendor order in the database whose workflow does not exist (yet):
    # what a worker crash between confirming the order and starting its children leaves
    seller = await onboard(api, "NotYet")
    sku = await stock_product(api, seller, price_cents=1200, on_hand=3)
    order = (await place(api, order_body([(sku, 1)]))).json()
    vendor_order_id = order["vendor_orders"][0]["id"]
    engine = make_engine(stack.env["DATABASE_URL"], pool_size=1)
    try:
        async with make_sessionmaker(engine)() as session:
            await execute_sql(
                session,
                text("UPDATE vendor_order SET workflow_id = :wf WHERE id = :id"),
                {"wf": f"not-started-{uuid.uuid4().hex}", "id": vendor_order_id},
            )
            await session.commit()
        # When the vendor ships it, and an operator refunds part of it (simulation seed 400)
        answer = await seller_ship(api, seller.auth, vendor_order_id)
        refund = await api.post(
            f"/v1/ops/vendor-orders/{vendor_order_id}/refunds",
            json={"amount_cents": 500},
            headers={**OPS, "Idempotency-Key": uuid.uuid4().hex},
        )
    finally:
        await engine.dispose()
    # Then each is told to come back, not that the order is in the wrong state, nor a 500
    for told in (answer, refund):
        assert told.status_code == 503, told.text
        assert told.json()["code"] == "unavailable"
        assert told.headers.get("retry-after") is not None
    assert (await api.get(f"/v1/orders/{order['id']}", headers=PLATFORM)).json()[
        "refunded_cents"
    ] == 0
    level = await inventory(api, sku)
    assert (level["on_hand"], level["reserved"]) == (3, 1)


async def seller_ship(
    api: httpx.AsyncClient, auth: dict[str, str], vendor_order_id: str
) -> httpx.Response:
    return await api.post(
        f"/v1/vendor/orders/{vendor_order_id}/ship",
        json={"carrier": "usps", "tracking_number": f"TRK{uuid.uuid4().hex[:10]}"},
        headers=auth,
    )


async def test_a_carrier_delivered_event_during_ship_is_applied_once_ship_is_done_never_lost(
    api: httpx.AsyncClient, stack: DevStack
) -> None:
    # Given a vendor shipping with its own tracking number while Shippo's tracking
    # registration fails twice (so `ship` is still at work for a few seconds)
    seller = await onboard(api, "EarlyBird")
    sku = await stock_product(api, seller, price_cents=1000, on_hand=2)
    order = (await place(api, order_body([(sku, 1)]))).json()
    vendor_order_id = order["vendor_orders"][0]["id"]
    tracking = f"TRK{uuid.uuid4().hex[:10]}"
    async with httpx.AsyncClient(base_url=stack.env["SHIPPO_API_BASE"], timeout=30) as shippo:
        faults = await shippo.post(
            "/_emulator/faults",
            json={"rate": 1.0, "modes": ["error_500"], "paths": ["/tracks"], "count": 2},
        )
        assert faults.status_code == 200, faults.text
        try:
            shipping = asyncio.create_task(
                api.post(
                    f"/v1/vendor/orders/{vendor_order_id}/ship",
                    json={"carrier": "usps", "tracking_number": tracking},
                    headers=seller.auth,
                )
            )
            # When the carrier reports the parcel delivered as soon as it is recorded
            await _until(lambda: _tracking_recorded(api, order["id"], tracking))
            url = f"/v1/webhooks/shippo?token={stack.env['SHIPPO_WEBHOOK_TOKEN']}"
            delivered = await api.post(url, json=_track_event(tracking, "DELIVERED"))
            shipped = await shipping
        finally:
            await shippo.delete("/_emulator/faults")
    # Then the ship answers, and the delivery is applied (not taken for "already delivered")
    assert shipped.status_code == 200, shipped.text
    assert delivered.status_code == 200, delivered.text
    assert delivered.json()["acted"] is True
    now = (await api.get(f"/v1/orders/{order['id']}", headers=PLATFORM)).json()
    assert now["vendor_orders"][0]["status"] == "delivered"
    # And the same event again acts no more
    again = await api.post(url, json=_track_event(tracking, "DELIVERED"))
    assert again.json().get("duplicate") is True


async def _tracking_recorded(api: httpx.AsyncClient, order_id: str, tracking: str) -> bool:
    order = (await api.get(f"/v1/orders/{order_id}", headers=PLATFORM)).json()
    return bool(order["vendor_orders"][0]["tracking_number"] == tracking)


def _track_event(tracking: str, status: str) -> dict[str, Any]:
    return {
        "event": "track_updated",
        "test": True,
        "data": {
            "carrier": "usps",
            "tracking_number": tracking,
            "tracking_status": {
                "status": status,
                "status_details": status.lower(),
                "status_date": "2026-12-02T10:00:00Z",
                "object_id": f"ts_{tracking}_{status}",
            },
        },
    }


async def test_a_paid_vendor_order_temporal_no_longer_keeps_can_still_be_refunded_by_an_operator(
    api: httpx.AsyncClient, stack: DevStack, stripe: StripeGateway
) -> None:
    # Given a vendor order paid out and closed, whose workflow Temporal no longer keeps (its
    # retention is over: the database is the only one to remember it)
    seller = await onboard(api, "Forgotten")
    sku = await stock_product(api, seller, price_cents=3000, on_hand=3)
    order = await paid_order(api, seller, sku)
    vendor_order_id = order["vendor_orders"][0]["id"]
    engine = make_engine(stack.env["DATABASE_URL"], pool_size=1)
    try:
        async with make_sessionmaker(engine)() as session:
            await execute_sql(
                session,
                text("UPDATE vendor_order SET workflow_id = :wf WHERE id = :id"),
                {"wf": f"purged-{uuid.uuid4().hex}", "id": vendor_order_id},
            )
            await session.commit()
    finally:
        await engine.dispose()
    # When an operator refunds part of it
    refund = await api.post(
        f"/v1/ops/vendor-orders/{vendor_order_id}/refunds",
        json={"amount_cents": 700},
        headers={**OPS, "Idempotency-Key": uuid.uuid4().hex},
    )
    # Then it is refunded (and the vendor's share taken back), not refused as closed
    assert refund.status_code == 200, refund.text
    assert refund.json()["refunded_cents"] == 700
    intent = (await stripe.list_payment_intents_for(f"order-{order['id']}"))[0]
    assert [r["amount"] for r in await stripe.list_refunds(intent["id"])] == [700]


async def test_a_checkout_refused_for_stock_and_sent_again_with_its_key_is_refused_again(
    api: httpx.AsyncClient,
) -> None:
    # Given a checkout of 3 refused while only 2 are on the shelf
    seller = await onboard(api, "RefusedOnce")
    sku = await stock_product(api, seller, price_cents=1000, on_hand=2)
    key = uuid.uuid4().hex
    body = order_body([(sku, 3)])
    first = await place(api, body, key)
    assert (first.status_code, first.json()["code"]) == (409, "insufficient_stock")
    # When the vendor restocks and the storefront sends the same request again with its key
    # (simulation seed 838: it was confirmed, a second answer to one key)
    url = f"/v1/inventory/{sku}/{seller.warehouse_id}/adjustments"
    added = await api.post(url, json={"delta": 5, "reason": "delivery"}, headers=seller.auth)
    assert added.status_code == 200
    again = await place(api, body, key)
    # Then it gets the same refusal, nothing is reserved, and another body under the key is
    # a reused key; a new key buys the units
    assert (again.status_code, again.json()["code"]) == (409, "insufficient_stock")
    other = await place(api, order_body([(sku, 1)]), key)
    assert (other.status_code, other.json()["code"]) == (422, "idempotency_key_reused")
    assert (await inventory(api, sku))["reserved"] == 0
    assert (await place(api, body)).status_code == 201
