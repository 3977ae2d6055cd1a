"""Vendors ship (labels or their own tracking), parcels arrive through Shippo's webhook, a
vendor that never ships is cancelled by its SLA, buyers cancel and return; money reconciles."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from devstack.stack import DevStack
from domain.signing import verify
from providers.stripe_adapter import StripeGateway
from tests.e2e.client import (
    OPS,
    PLATFORM,
    Seller,
    inventory,
    onboard,
    order_body,
    place,
    stock_product,
    wait_for_order,
)
from tests.e2e.money import reconcile
from tests.e2e.webhook_inbox import Inbox, allowed_webhook_port, running_inbox

PARCEL = {"length_cm": 30, "width_cm": 20, "height_cm": 10, "weight_grams": 1200}


@pytest.fixture
def inbox(stack: DevStack) -> Iterator[Inbox]:
    # The stack's worker reaches only the local receiver it allows (tests/conftest.py).
    with running_inbox(allowed_webhook_port(stack)) as box:
        yield box


@pytest.fixture
async def shippo(stack: DevStack) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=stack.env["SHIPPO_API_BASE"], timeout=30) as client:
        yield client


async def until(check: Any, within: float = 30, every: float = 0.1) -> Any:
    deadline = asyncio.get_running_loop().time() + within
    while True:
        found = await check()
        if found:
            return found
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("the condition never held")
        await asyncio.sleep(every)


async def get_order(api: httpx.AsyncClient, order_id: str) -> dict[str, Any]:
    answer = await api.get(f"/v1/orders/{order_id}", headers=PLATFORM)
    assert answer.status_code == 200, answer.text
    return answer.json()  # type: ignore[no-any-return]


async def vendor_order_in(
    api: httpx.AsyncClient, order_id: str, vendor_id: str, status: str | None = None
) -> dict[str, Any] | None:
    order = await get_order(api, order_id)
    found = next(vo for vo in order["vendor_orders"] if vo["vendor_id"] == vendor_id)
    return found if status is None or found["status"] == status else None


async def test_three_vendors_label_own_tracking_and_one_auto_cancelled_then_a_return_reconciles(
    api: httpx.AsyncClient,
    stack: DevStack,
    stripe: StripeGateway,
    shippo: httpx.AsyncClient,
    inbox: Inbox,
) -> None:
    labels = await onboard(api, "Labels", commission_bps=1000)
    own = await onboard(api, "Own", commission_bps=1000)
    # Ships within a second, or is cancelled two seconds later (FULFILLMENT_AUTO_CANCEL_AFTER).
    late = await onboard(api, "Late", commission_bps=1000, ship_sla=1, webhook_url=inbox.url)
    brake = await stock_product(api, labels, price_cents=2500, on_hand=10)
    tyre = await stock_product(api, own, price_cents=4000, on_hand=10)
    bell = await stock_product(api, late, price_cents=1500, on_hand=10)

    placed = await place(api, order_body([(brake, 2), (tyre, 1), (bell, 3)]))
    assert placed.status_code == 201, placed.text
    order = placed.json()
    by_vendor = {vo["vendor_id"]: vo for vo in order["vendor_orders"]}
    # Postage is estimated at checkout and charged: each vendor order carries its part.
    assert all(vo["shipping_cents"] > 0 for vo in by_vendor.values())
    assert order["shipping_cents"] == sum(vo["shipping_cents"] for vo in by_vendor.values())
    assert order["total_cents"] == 2 * 2500 + 4000 + 3 * 1500 + order["shipping_cents"]

    # One vendor buys a label through the platform.
    shipped = await api.post(
        f"/v1/vendor/orders/{by_vendor[labels.id]['id']}/ship",
        json={"purchase_label": True, "parcel": PARCEL},
        headers=labels.auth,
    )
    assert shipped.status_code == 200, shipped.text
    label = shipped.json()
    assert label["status"] == "shipped"
    assert label["label_url"] and label["tracking_number"] and label["label_cost_cents"] > 0
    # One ships with its own tracking number: the carrier reports it delivered by itself.
    own_tracking = f"SHIPPO_DELIVERED_{uuid.uuid4().hex[:8]}"
    answer = await api.post(
        f"/v1/vendor/orders/{by_vendor[own.id]['id']}/ship",
        json={"carrier": "shippo", "tracking_number": own_tracking},
        headers=own.auth,
    )
    assert answer.status_code == 200, answer.text

    # The label's parcel arrives: Shippo's webhook delivers the vendor order; the buyer sends
    # one brake back within the (short) return window.
    moved = await shippo.post(
        f"/_emulator/tracks/{label['carrier']}/{label['tracking_number']}",
        json={"status": "DELIVERED"},
    )
    assert moved.status_code == 200, moved.text
    await until(lambda: vendor_order_in(api, order["id"], labels.id, "delivered"), every=0.05)
    opened = await api.post(
        f"/v1/orders/{order['id']}/returns",
        json={
            "vendor_order_id": label["id"],
            "lines": [{"sku": brake, "quantity": 1}],
            "reason": "wrong size",
        },
        headers=PLATFORM,
    )
    assert opened.status_code == 201, opened.text
    returned = opened.json()
    assert (returned["status"], returned["refund_cents"]) == ("requested", 2500)
    received = await api.post(
        f"/v1/vendor/orders/{label['id']}/returns/{returned['id']}/receive", headers=labels.auth
    )
    assert received.status_code == 200, received.text
    assert received.json()["status"] == "refunded"
    # The storefront and the vendor both see it.
    listed = await api.get(f"/v1/orders/{order['id']}/returns", headers=PLATFORM)
    assert [(r["id"], r["status"]) for r in listed.json()["data"]] == [(returned["id"], "refunded")]
    mine = await api.get("/v1/vendor/returns?status=refunded", headers=labels.auth)
    assert [r["id"] for r in mine.json()["data"]] == [returned["id"]]

    done = await wait_for_order(api, order["id"], "completed", within=60)
    final = {vo["vendor_id"]: vo for vo in done["vendor_orders"]}
    assert final[own.id]["status"] == "completed"
    assert final[late.id]["status"] == "cancelled"
    assert final[late.id]["payout_status"] == "none"
    assert final[late.id]["payout_cents"] == 0
    cancelled = [e for e in done["events"] if e["type"] == "vendor_order.cancelled"]
    assert [e["detail"]["reason"] for e in cancelled] == ["ship_sla_expired"]

    # Money: each vendor paid exactly its share, the buyer refunded exactly.
    a, b, c = final[labels.id], final[own.id], final[late.id]
    assert a["refunded_cents"] == 2500 and a["commission_cents"] == 250
    assert a["payout_cents"] == (
        a["subtotal_cents"] + a["shipping_cents"] - 2500 - 250 - a["label_cost_cents"]
    )
    assert b["payout_cents"] == b["subtotal_cents"] + b["shipping_cents"] - 400
    assert c["refunded_cents"] == c["subtotal_cents"] + c["shipping_cents"]
    assert done["refunded_cents"] == 2500 + c["refunded_cents"]
    assert done["total_cents"] == (
        done["refunded_cents"]
        + sum(vo["payout_cents"] + vo["commission_cents"] for vo in final.values())
        + a["label_cost_cents"]
    )
    transfers = await stripe.list_transfers(transfer_group=done["workflow_id"])
    assert sorted(t["amount"] for t in transfers) == sorted([a["payout_cents"], b["payout_cents"]])
    assert await reconcile(stack, stripe, order["id"]) == []

    # Stock: the cancelled units are back on sale, the returned brake back on the shelf.
    assert (await inventory(api, bell))["available"] == 10
    brakes = await inventory(api, brake)
    assert (brakes["on_hand"], brakes["reserved"]) == (9, 0)

    # The late vendor heard of its order, the reminder and the cancellation, signed.
    await until(lambda: _async(len(inbox.types()) >= 3))
    assert inbox.types() == [
        "vendor_order.created",
        "vendor_order.ship_reminder",
        "vendor_order.cancelled",
    ]


async def _async(value: Any) -> Any:
    return value


async def test_vendor_notifications_are_signed_with_the_vendors_secret(
    api: httpx.AsyncClient, inbox: Inbox
) -> None:
    created = await api.post(
        "/v1/vendors",
        json={"name": "Signed", "email": "signed@example.com", "webhook_url": inbox.url},
        headers=OPS,
    )
    assert created.status_code == 201, created.text
    vendor = created.json()
    secret = vendor["webhook_secret"]
    assert secret.startswith("whsec_")
    seller = Seller(vendor["id"], vendor["api_key"], "", vendor["stripe_account_id"])
    warehouse = await api.post(
        f"/v1/vendors/{seller.id}/warehouses",
        json={
            "name": "Main",
            "postal_code": "10001",
            "country": "US",
            "latitude": 40.75,
            "longitude": -73.99,
        },
        headers=seller.auth,
    )
    seller.warehouse_id = warehouse.json()["id"]
    sku = await stock_product(api, seller, price_cents=1000, on_hand=5)
    order = (await place(api, order_body([(sku, 1)]))).json()
    await until(lambda: _async(len(inbox.received) >= 1))
    headers, body = inbox.received[0]
    verify(secret, headers["fulfillment-signature"], body, now=int(headers_time(headers)))
    message = json.loads(body)
    assert message["type"] == "vendor_order.created"
    assert message["vendor_order_id"] == order["vendor_orders"][0]["id"]
    assert headers["fulfillment-event-id"] == message["id"]


def headers_time(headers: dict[str, str]) -> int:
    return int(headers["fulfillment-signature"].split(",")[0].removeprefix("t="))


async def test_cancelling_an_order_refunds_what_has_not_shipped_and_keeps_what_has(
    api: httpx.AsyncClient, stripe: StripeGateway
) -> None:
    first = await onboard(api, "First")
    second = await onboard(api, "Second")
    one = await stock_product(api, first, price_cents=3000, on_hand=5)
    two = await stock_product(api, second, price_cents=2000, on_hand=5)
    order = (await place(api, order_body([(one, 1), (two, 2)]))).json()
    by_vendor = {vo["vendor_id"]: vo for vo in order["vendor_orders"]}
    answer = await api.post(
        f"/v1/vendor/orders/{by_vendor[first.id]['id']}/ship",
        json={"carrier": "ups", "tracking_number": "1Z"},
        headers=first.auth,
    )
    assert answer.status_code == 200, answer.text

    cancelled = await api.post(
        f"/v1/orders/{order['id']}/cancel", json={"reason": "changed mind"}, headers=PLATFORM
    )
    assert cancelled.status_code == 200, cancelled.text
    after = {vo["vendor_id"]: vo for vo in cancelled.json()["vendor_orders"]}
    assert after[first.id]["status"] == "shipped"
    assert after[second.id]["status"] == "cancelled"
    owed = by_vendor[second.id]["subtotal_cents"] + by_vendor[second.id]["shipping_cents"]
    assert cancelled.json()["refunded_cents"] == owed
    assert cancelled.json()["status"] == "in_fulfillment"
    assert (await inventory(api, two))["available"] == 5
    (intent,) = await stripe.list_payment_intents_for(order["workflow_id"])
    refunds = await stripe.list_refunds(intent["id"])
    assert any(
        r["amount"] == owed and r["metadata"].get("vendor_order_id") == after[second.id]["id"]
        for r in refunds
    )

    again = await api.post(f"/v1/orders/{order['id']}/cancel", headers=PLATFORM)
    assert again.status_code == 409
    assert again.json()["code"] == "invalid_state"
    unchanged = await get_order(api, order["id"])
    assert unchanged["refunded_cents"] == owed


async def test_a_vendor_shipping_while_the_buyer_cancels_exactly_one_wins_every_time(
    api: httpx.AsyncClient,
) -> None:
    seller = await onboard(api, "Racer")
    sku = await stock_product(api, seller, price_cents=1000, on_hand=50)
    outcomes: list[str] = []
    for _ in range(8):
        order = (await place(api, order_body([(sku, 1)]))).json()
        vendor_order_id = order["vendor_orders"][0]["id"]
        ship, cancel = await asyncio.gather(
            api.post(
                f"/v1/vendor/orders/{vendor_order_id}/ship",
                json={"carrier": "ups", "tracking_number": "1Z"},
                headers=seller.auth,
            ),
            api.post(f"/v1/orders/{order['id']}/cancel", headers=PLATFORM),
        )
        codes = sorted([ship.status_code, cancel.status_code])
        assert codes == [200, 409], (ship.text, cancel.text)
        loser = ship if ship.status_code == 409 else cancel
        assert loser.json()["code"] == "invalid_state"
        state = await vendor_order_in(api, order["id"], seller.id)
        assert state is not None
        winner = "shipped" if ship.status_code == 200 else "cancelled"
        assert state["status"] == winner
        outcomes.append(winner)
    # Neither never, nor both: and the stock agrees with whoever won.
    level = await inventory(api, sku)
    assert level["reserved"] == 0
    assert level["on_hand"] == 50 - outcomes.count("shipped")


async def test_the_shippo_webhook_wants_its_token_and_acts_once_per_event(
    api: httpx.AsyncClient, stack: DevStack
) -> None:
    seller = await onboard(api, "Hooked")
    sku = await stock_product(api, seller, price_cents=1000, on_hand=5)
    order = (await place(api, order_body([(sku, 1)]))).json()
    vendor_order_id = order["vendor_orders"][0]["id"]
    tracking = f"TRK{uuid.uuid4().hex[:10]}"
    await api.post(
        f"/v1/vendor/orders/{vendor_order_id}/ship",
        json={"carrier": "usps", "tracking_number": tracking},
        headers=seller.auth,
    )
    event = {
        "event": "track_updated",
        "test": True,
        "data": {
            "carrier": "usps",
            "tracking_number": tracking,
            "tracking_status": {
                "status": "RETURNED",
                "status_details": "returned to sender",
                "status_date": "2026-11-23T10:00:00Z",
                "object_id": f"ts_{uuid.uuid4().hex[:8]}",
            },
        },
    }
    wrong = await api.post("/v1/webhooks/shippo?token=nope", json=event)
    assert wrong.status_code == 401
    assert wrong.json()["code"] == "unauthorized"
    assert (await vendor_order_in(api, order["id"], seller.id))["attention"] is None  # type: ignore[index]

    url = f"/v1/webhooks/shippo?token={stack.env['SHIPPO_WEBHOOK_TOKEN']}"
    first = await api.post(url, json=event)
    second = await api.post(url, json=event)
    assert first.status_code == second.status_code == 200
    assert first.json()["acted"] is True and second.json()["duplicate"] is True
    flagged = await until(lambda: vendor_order_in(api, order["id"], seller.id), within=10)
    await until(lambda: _flagged(api, order["id"], seller.id, "parcel_returned"), within=10)
    assert flagged["id"] == vendor_order_id

    # Operators find it in one query, by reason, by vendor, or among all that need a look.
    for query in ("attention=parcel_returned", f"vendor_id={seller.id}", ""):
        listed = await api.get(f"/v1/ops/orders?limit=200&{query}", headers=OPS)
        assert listed.status_code == 200, listed.text
        assert order["id"] in [o["id"] for o in listed.json()["data"]], query
    other = await api.get("/v1/ops/orders?attention=ship_sla_breached&limit=200", headers=OPS)
    assert order["id"] not in [o["id"] for o in other.json()["data"]]
    denied = await api.get("/v1/ops/orders", headers=PLATFORM)
    assert denied.status_code == 403


async def _flagged(api: httpx.AsyncClient, order_id: str, vendor_id: str, why: str) -> bool:
    found = await vendor_order_in(api, order_id, vendor_id)
    return found is not None and found["attention"] == why
