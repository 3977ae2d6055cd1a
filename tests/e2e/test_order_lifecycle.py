"""The whole order lifecycle over HTTP against the running stack, money checked in Stripe."""

from __future__ import annotations

import asyncio

import httpx

from domain.ids import order_id_for_idempotency_key
from providers.stripe_adapter import StripeGateway
from tests.conftest import E2E_RETURN_WINDOW_SECONDS
from tests.e2e.client import (
    PLATFORM,
    inventory,
    onboard,
    order_body,
    place,
    stock_product,
    unique,
    wait_for_order,
)


async def test_two_vendors_ship_parcels_arrive_and_each_is_paid_its_share_after_the_window(
    api: httpx.AsyncClient, stripe: StripeGateway
) -> None:
    brakes = await onboard(api, "Brakes", commission_bps=1000)
    tyres = await onboard(api, "Tyres", commission_bps=1250)
    brake = await stock_product(
        api, brakes, price_cents=2500, on_hand=10, tiers=[{"min_quantity": 2, "price_cents": 2250}]
    )
    tyre = await stock_product(api, tyres, price_cents=4999, on_hand=4)

    placed = await place(api, order_body([(brake, 2), (tyre, 1)]))
    assert placed.status_code == 201, placed.text
    order = placed.json()
    assert order["status"] == "confirmed"
    # Two brakes reach the 2-unit tier.
    assert [
        (li["sku"], li["unit_price_cents"], li["line_total_cents"]) for li in order["lines"]
    ] == [
        (brake, 2250, 4500),
        (tyre, 4999, 4999),
    ]
    # Postage for each vendor's parcel is estimated at checkout and charged.
    assert order["shipping_cents"] > 0
    assert order["total_cents"] == 4500 + 4999 + order["shipping_cents"]
    assert (await inventory(api, brake))["reserved"] == 2

    by_vendor = {vo["vendor_id"]: vo for vo in order["vendor_orders"]}
    assert set(by_vendor) == {brakes.id, tyres.id}
    for seller, tracking in ((tyres, "TYRE-TRACK"), (brakes, "BRAKE-TRACK")):
        mine = await api.get("/v1/vendor/orders?status=awaiting_shipment", headers=seller.auth)
        assert [vo["id"] for vo in mine.json()["data"]] == [by_vendor[seller.id]["id"]]
        shipped = await api.post(
            f"/v1/vendor/orders/{by_vendor[seller.id]['id']}/ship",
            json={"carrier": "ups", "tracking_number": tracking},
            headers=seller.auth,
        )
        assert shipped.status_code == 200, shipped.text
        assert shipped.json()["status"] == "shipped"
        assert shipped.json()["tracking_number"] == tracking
    assert (await api.get(f"/v1/orders/{order['id']}", headers=PLATFORM)).json()[
        "status"
    ] == "in_fulfillment"
    # Shipping takes the units off the shelf: on_hand and reserved both drop.
    assert (await inventory(api, brake))[("on_hand")] == 8
    assert (await inventory(api, brake))["reserved"] == 0

    for seller in (brakes, tyres):
        delivered = await api.post(
            f"/v1/vendor/orders/{by_vendor[seller.id]['id']}/deliver", headers=seller.auth
        )
        assert delivered.status_code == 200, delivered.text
        assert delivered.json()["status"] == "delivered"
        assert delivered.json()["payout_status"] == "pending"

    done = await wait_for_order(
        api, order["id"], "completed", within=E2E_RETURN_WINDOW_SECONDS + 30
    )
    paid = {vo["vendor_id"]: vo for vo in done["vendor_orders"]}
    # Commission half up: 10% of 45.00 = 4.50; 12.5% of 49.99 = 6.24875 -> 6.25.
    # Each vendor also gets the postage paid for its parcel.
    postage = {vendor: vo["shipping_cents"] for vendor, vo in paid.items()}
    assert sum(postage.values()) == order["shipping_cents"]
    assert (paid[brakes.id]["commission_cents"], paid[brakes.id]["payout_cents"]) == (
        450,
        4050 + postage[brakes.id],
    )
    assert (paid[tyres.id]["commission_cents"], paid[tyres.id]["payout_cents"]) == (
        625,
        4374 + postage[tyres.id],
    )
    assert {vo["status"] for vo in paid.values()} == {"completed"}
    assert {vo["payout_status"] for vo in paid.values()} == {"released"}
    assert done["total_cents"] == sum(
        vo["payout_cents"] + vo["commission_cents"] for vo in paid.values()
    )
    assert [e["type"] for e in done["events"]][-1] == "order.completed"

    group = f"order-{order['id']}"
    intents = await stripe.list_payment_intents_for(group)
    assert [(pi["amount"], pi["status"], pi["metadata"]["order_id"]) for pi in intents] == [
        (order["total_cents"], "succeeded", order["id"])
    ]
    transfers = {t["metadata"]["vendor_order_id"]: t for t in await stripe.list_transfers(group)}
    assert {vo_id: t["amount"] for vo_id, t in transfers.items()} == {
        paid[brakes.id]["id"]: 4050 + postage[brakes.id],
        paid[tyres.id]["id"]: 4374 + postage[tyres.id],
    }
    assert transfers[paid[brakes.id]["id"]]["destination"] == brakes.account
    assert transfers[paid[tyres.id]["id"]]["destination"] == tyres.account
    assert {t["source_transaction"] for t in transfers.values()} == {intents[0]["latest_charge"]}


async def test_a_checkout_retried_concurrently_with_one_key_creates_one_order_and_one_charge(
    api: httpx.AsyncClient, stripe: StripeGateway
) -> None:
    seller = await onboard(api, "Retry")
    sku = await stock_product(api, seller, price_cents=1000, on_hand=5)
    body, key = order_body([(sku, 2)]), unique("checkout")
    answers = await asyncio.gather(*(place(api, body, key) for _ in range(8)))
    assert {a.status_code for a in answers} == {201}
    assert len({a.json()["id"] for a in answers}) == 1
    order_id = answers[0].json()["id"]
    assert len(await stripe.list_payment_intents_for(f"order-{order_id}")) == 1
    assert (await inventory(api, sku))["reserved"] == 2
    again = await place(api, body, key)
    assert (again.status_code, again.json()["id"]) == (201, order_id)


async def test_the_same_key_with_another_body_is_refused_and_changes_nothing(
    api: httpx.AsyncClient, stripe: StripeGateway
) -> None:
    seller = await onboard(api, "Reuse")
    sku = await stock_product(api, seller, price_cents=1000, on_hand=5)
    key = unique("checkout")
    first = await place(api, order_body([(sku, 1)]), key)
    assert first.status_code == 201
    other = await place(api, order_body([(sku, 3)]), key)
    assert other.status_code == 422
    assert other.headers["content-type"].startswith("application/problem+json")
    assert other.json()["code"] == "idempotency_key_reused"
    assert (await inventory(api, sku))["reserved"] == 1
    assert len(await stripe.list_payment_intents_for(f"order-{first.json()['id']}")) == 1


async def test_an_order_beyond_the_stock_is_refused_and_holds_and_charges_nothing(
    api: httpx.AsyncClient, stripe: StripeGateway
) -> None:
    seller = await onboard(api, "Scarce")
    plenty = await stock_product(api, seller, price_cents=1000, on_hand=50)
    scarce = await stock_product(api, seller, price_cents=1000, on_hand=2)
    key, body = unique("checkout"), order_body([(plenty, 5), (scarce, 3)])
    refused = await place(api, body, key)
    assert refused.status_code == 409, refused.text
    assert refused.json()["code"] == "insufficient_stock"
    assert refused.json()["items"] == [{"sku": scarce, "requested": 3, "available": 2}]
    for sku, on_hand in ((plenty, 50), (scarce, 2)):
        assert (await inventory(api, sku))["reserved"] == 0
        assert (await inventory(api, sku))["on_hand"] == on_hand
    order_id = order_id_for_idempotency_key("platform", key)
    assert await stripe.list_payment_intents_for(f"order-{order_id}") == []
    # The retried key gets the same refusal, from the order store.
    replayed = await place(api, body, key)
    assert (replayed.status_code, replayed.json()["code"]) == (409, "insufficient_stock")


async def test_a_declined_card_is_refused_with_its_decline_code_and_the_stock_released(
    api: httpx.AsyncClient,
) -> None:
    seller = await onboard(api, "Declined")
    sku = await stock_product(api, seller, price_cents=1000, on_hand=5)
    for method, decline_code in (
        ("pm_card_visa_chargeDeclined", "generic_decline"),
        ("pm_card_visa_chargeDeclinedInsufficientFunds", "insufficient_funds"),
    ):
        refused = await place(api, order_body([(sku, 2)], payment_method=method))
        assert refused.status_code == 402, refused.text
        assert refused.json()["code"] == "payment_declined"
        assert refused.json()["decline_code"] == decline_code
        level = await inventory(api, sku)
        assert (level["on_hand"], level["reserved"], level["available"]) == (5, 0, 5)
