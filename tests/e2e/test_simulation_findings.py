"""Regression tests for what the randomized simulation (tests/simulation) found: each one a
path where money did not add up, written as the smallest sequence that showed it."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from devstack.stack import DevStack
from providers.stripe_adapter import StripeGateway
from tests.e2e.client import OPS, PLATFORM, inventory, onboard, order_body, place, stock_product
from tests.e2e.money import emulator, paid_order, vendor_order, wait_for_order

PARCEL = {"length_cm": 30, "width_cm": 20, "height_cm": 10, "weight_grams": 1200}


async def test_a_disputed_charge_is_not_refunded_by_a_cancellation_so_the_buyer_is_not_paid_twice(
    api: httpx.AsyncClient, stripe: StripeGateway, stack: DevStack
) -> None:
    # Given a confirmed order whose charge the buyer's bank disputes
    seller = await onboard(api, "ChargedBack")
    sku = await stock_product(api, seller, price_cents=4000, on_hand=3)
    order = (await place(api, order_body([(sku, 1)]))).json()
    intent = (await stripe.list_payment_intents_for(f"order-{order['id']}"))[0]
    async with emulator(stack) as control:
        opened = await control.post("/_emulator/disputes", json={"payment_intent": intent["id"]})
        assert opened.status_code == 200, opened.text
        # When the storefront cancels the order while the dispute is open
        cancel = await api.post(f"/v1/orders/{order['id']}/cancel", json={}, headers=PLATFORM)
        # Then it is refused (the dispute decides the money), and nothing changed
        assert cancel.status_code == 409, cancel.text
        assert cancel.json()["code"] == "invalid_state"
        assert await stripe.list_refunds(intent["id"]) == []
        level = await inventory(api, sku)
        assert (level["on_hand"], level["reserved"]) == (3, 1)
        now = (await api.get(f"/v1/orders/{order['id']}", headers=PLATFORM)).json()
        assert now["vendor_orders"][0]["status"] == "awaiting_shipment"
        assert now["refunded_cents"] == 0


async def test_a_label_on_a_fully_refunded_vendor_order_keeps_the_money_rule_exact(
    api: httpx.AsyncClient,
) -> None:
    # Given a vendor order shipped with a label the platform bought
    seller = await onboard(api, "Labelled")
    sku = await stock_product(api, seller, price_cents=3000, on_hand=3)
    order = (await place(api, order_body([(sku, 1)]))).json()
    vo_id = order["vendor_orders"][0]["id"]
    shipped = await api.post(
        f"/v1/vendor/orders/{vo_id}/ship",
        json={"purchase_label": True, "parcel": PARCEL},
        headers=seller.auth,
    )
    assert shipped.status_code == 200, shipped.text
    bought = shipped.json()["label_bought_cents"]
    assert bought > 0 and shipped.json()["label_cost_cents"] == bought
    # When an operator refunds the buyer everything
    refund = await api.post(
        f"/v1/ops/vendor-orders/{vo_id}/refunds",
        json={"amount_cents": order["total_cents"]},
        headers={**OPS, "Idempotency-Key": uuid.uuid4().hex},
    )
    assert refund.status_code == 200, refund.text
    await api.post(f"/v1/vendor/orders/{vo_id}/deliver", headers=seller.auth)
    done = await wait_for_order(api, order["id"], "completed", within=60)
    (vo,) = done["vendor_orders"]
    # Then the label the payout could not cover is the platform's cost, shown apart, and
    # total = refunded + payouts + commissions + the label costs taken from payouts
    assert (vo["label_bought_cents"], vo["label_cost_cents"], vo["payout_cents"]) == (bought, 0, 0)
    assert done["total_cents"] == (
        done["refunded_cents"]
        + vo["payout_cents"]
        + vo["commission_cents"]
        + vo["label_cost_cents"]
    )


async def test_an_ops_refund_of_a_paid_vendor_order_during_a_dispute_is_refused_then_goes_through(
    api: httpx.AsyncClient, stripe: StripeGateway, stack: DevStack
) -> None:
    # Given a vendor order paid out and closed, whose charge the buyer's bank then disputes
    # (simulation seed 305: the refund answered 500 on every retry of its key, for good)
    seller = await onboard(api, "PaidThenDisputed")
    sku = await stock_product(api, seller, price_cents=4000, on_hand=3)
    order = await paid_order(api, seller, sku)
    vo_id = order["vendor_orders"][0]["id"]
    intent = (await stripe.list_payment_intents_for(f"order-{order['id']}"))[0]
    key = {**OPS, "Idempotency-Key": uuid.uuid4().hex}
    async with emulator(stack) as control:
        opened = await control.post("/_emulator/disputes", json={"payment_intent": intent["id"]})
        assert opened.status_code == 200, opened.text
        # When an operator refunds part of it while the dispute is open
        refused = await api.post(
            f"/v1/ops/vendor-orders/{vo_id}/refunds", json={"amount_cents": 1000}, headers=key
        )
        # Then it is refused as the running vendor order's refund is (the dispute decides)
        assert refused.status_code == 409, refused.text
        assert refused.json()["code"] == "invalid_state"
        assert await stripe.list_refunds(intent["id"]) == []
        # And once the dispute is won, the same request goes through, once
        closed = await control.post(
            f"/_emulator/disputes/{opened.json()['id']}/close", json={"status": "won"}
        )
        assert closed.status_code == 200, closed.text
    other_key = {**OPS, "Idempotency-Key": uuid.uuid4().hex}
    for _ in range(2):
        done = await api.post(
            f"/v1/ops/vendor-orders/{vo_id}/refunds", json={"amount_cents": 1000}, headers=other_key
        )
        assert done.status_code == 200, done.text
    assert [r["amount"] for r in await stripe.list_refunds(intent["id"])] == [1000]
    assert (await vendor_order(api, order["id"]))["refunded_cents"] == 1000


async def cancel_refused_during_a_dispute_then_closed(
    api: httpx.AsyncClient, stripe: StripeGateway, stack: DevStack, name: str, outcome: str
) -> tuple[dict[str, Any], dict[str, Any], str]:
    """A confirmed, unshipped order whose cancellation is refused while its charge is
    disputed, and whose dispute then closes with `outcome`: (order, PaymentIntent, SKU)."""
    seller = await onboard(api, name)
    sku = await stock_product(api, seller, price_cents=4000, on_hand=3)
    order = (await place(api, order_body([(sku, 1)]))).json()
    intent = (await stripe.list_payment_intents_for(f"order-{order['id']}"))[0]
    async with emulator(stack) as control:
        opened = await control.post("/_emulator/disputes", json={"payment_intent": intent["id"]})
        assert opened.status_code == 200, opened.text
        cancel = await api.post(f"/v1/orders/{order['id']}/cancel", json={}, headers=PLATFORM)
        assert cancel.status_code == 409, cancel.text
        closed = await control.post(
            f"/_emulator/disputes/{opened.json()['id']}/close", json={"status": outcome}
        )
        assert closed.status_code == 200, closed.text
    return order, intent, sku


async def test_an_order_whose_dispute_was_lost_before_shipping_can_still_be_cancelled(
    api: httpx.AsyncClient, stripe: StripeGateway, stack: DevStack
) -> None:
    # Given a confirmed, unshipped order whose cancellation was refused while its charge was
    # disputed (simulation seed 301: the SLA's auto-cancel, then for good), and when the
    # dispute is lost (the bank took the money back) and the order is cancelled
    order, intent, sku = await cancel_refused_during_a_dispute_then_closed(
        api, stripe, stack, "LostBeforeShipping", "lost"
    )
    cancel = await api.post(f"/v1/orders/{order['id']}/cancel", json={}, headers=PLATFORM)
    # Then it is cancelled: its stock is free again and the buyer is refunded nothing more
    assert cancel.status_code == 200, cancel.text
    done = await wait_for_order(api, order["id"], "cancelled", within=30)
    assert done["refunded_cents"] == order["total_cents"]
    assert await stripe.list_refunds(intent["id"]) == []
    level = await inventory(api, sku)
    assert (level["on_hand"], level["reserved"]) == (3, 0)


async def test_an_order_whose_dispute_was_won_before_shipping_can_then_be_cancelled_and_refunded(
    api: httpx.AsyncClient, stripe: StripeGateway, stack: DevStack
) -> None:
    # Given a confirmed, unshipped order whose cancellation was refused while its charge was
    # disputed (simulation seed 301: Stripe keeps a refusal under its idempotency key, and the
    # next cancellation sent the same key and amount, so it was refused for good), and when
    # the dispute is won (the money stays with the platform) and the order is cancelled
    order, intent, sku = await cancel_refused_during_a_dispute_then_closed(
        api, stripe, stack, "WonBeforeShipping", "won"
    )
    cancel = await api.post(f"/v1/orders/{order['id']}/cancel", json={}, headers=PLATFORM)
    # Then it is cancelled and the buyer refunded everything, once
    assert cancel.status_code == 200, cancel.text
    done = await wait_for_order(api, order["id"], "cancelled", within=30)
    assert done["refunded_cents"] == order["total_cents"]
    refunds = await stripe.list_refunds(intent["id"])
    assert [r["amount"] for r in refunds] == [order["total_cents"]]
    level = await inventory(api, sku)
    assert (level["on_hand"], level["reserved"]) == (3, 0)
