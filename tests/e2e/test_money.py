"""Money that always adds up, over HTTP against the running stack and the Stripe emulator."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
import uuid
from typing import Any

import httpx
import stripe

from devstack.stack import DevStack
from models.settings import DEV_WEBHOOK_SECRET
from providers.stripe_adapter import StripeGateway
from temporal.client import connect
from tests.e2e.client import OPS, PLATFORM, onboard, order_body, place, stock_product
from tests.e2e.money import (
    emulator,
    eventually,
    paid_order,
    reconcile,
    restrict,
    ship_and_deliver,
    vendor_order,
    wait_for_order,
)
from tests.e2e.snapshot import connect as connect_db


async def ops_refund(
    api: httpx.AsyncClient, vendor_order_id: str, amount: int, key: str | None = None
) -> httpx.Response:
    return await api.post(
        f"/v1/ops/vendor-orders/{vendor_order_id}/refunds",
        json={"amount_cents": amount, "reason": "requested_by_customer"},
        headers={**OPS, "Idempotency-Key": key or uuid.uuid4().hex},
    )


async def test_a_refund_after_the_payout_reverses_the_vendors_share_of_it(
    api: httpx.AsyncClient, stripe: StripeGateway, stack: DevStack
) -> None:
    seller = await onboard(api, "Reversed")
    sku = await stock_product(api, seller, price_cents=5000, on_hand=5)
    order = await paid_order(api, seller, sku)
    paid = order["vendor_orders"][0]
    # The buyer paid postage too (the vendor ships it): it goes to the vendor.
    postage = paid["shipping_cents"]
    assert (paid["payout_cents"], paid["commission_cents"]) == (4500 + postage, 500)

    key = uuid.uuid4().hex
    answer = await ops_refund(api, paid["id"], 2000, key)
    assert answer.status_code == 200, answer.text
    after = answer.json()
    # Commission only on the 30.00 kept: 3.00; the vendor keeps 27.00 and gives back 18.00.
    assert (after["refunded_cents"], after["commission_cents"], after["payout_cents"]) == (
        2000,
        300,
        2700 + postage,
    )
    assert after["payout_status"] == "reversed"
    again = await ops_refund(api, paid["id"], 2000, key)
    assert (again.status_code, again.json()["refunded_cents"]) == (200, 2000)

    intent = (await stripe.list_payment_intents_for(f"order-{order['id']}"))[0]
    assert [r["amount"] for r in await stripe.list_refunds(intent["id"])] == [2000]
    (transfer,) = await stripe.list_transfers(f"order-{order['id']}")
    assert [r["amount"] for r in await stripe.list_reversals(transfer["id"])] == [1800]
    whole = (await api.get(f"/v1/orders/{order['id']}", headers=PLATFORM)).json()
    assert whole["refunded_cents"] == 2000
    assert whole["total_cents"] == 2000 + 2700 + postage + 300
    assert await reconcile(stack, stripe, order["id"]) == []


async def test_a_reversal_the_vendor_cannot_cover_is_netted_against_its_next_payout(
    api: httpx.AsyncClient, stripe: StripeGateway, stack: DevStack
) -> None:
    seller = await onboard(api, "Spent")
    sku = await stock_product(api, seller, price_cents=5000, on_hand=5)
    first = await paid_order(api, seller, sku)
    async with emulator(stack) as control:
        spent = await control.post(
            f"/_emulator/accounts/{seller.account}/balance", json={"available": 0}
        )
        assert spent.status_code == 200, spent.text
    answer = await ops_refund(api, first["vendor_orders"][0]["id"], 2000)
    assert answer.status_code == 200, answer.text
    assert answer.json()["attention"] == "payout_reversal_pending"
    (transfer,) = await stripe.list_transfers(f"order-{first['id']}")
    assert await stripe.list_reversals(transfer["id"]) == []

    second = await paid_order(api, seller, sku)
    postage = second["vendor_orders"][0]["shipping_cents"]
    assert second["vendor_orders"][0]["payout_cents"] == 4500 + postage
    (netted,) = await stripe.list_transfers(f"order-{second['id']}")
    assert netted["amount"] == 4500 + postage - 1800
    assert await reconcile(stack, stripe, first["id"], second["id"]) == []


async def test_a_refund_made_in_the_stripe_dashboard_reduces_that_vendor_orders_payout_once(
    api: httpx.AsyncClient, stripe: StripeGateway, stack: DevStack
) -> None:
    seller = await onboard(api, "Dashboard")
    sku = await stock_product(api, seller, price_cents=5000, on_hand=5)
    order = (await place(api, order_body([(sku, 1)]))).json()
    vo = order["vendor_orders"][0]
    intent = (await stripe.list_payment_intents_for(f"order-{order['id']}"))[0]
    client = stripe_client(stack)
    await client.v1.refunds.create_async(
        params={
            "payment_intent": intent["id"],
            "amount": 1000,
            "metadata": {"vendor_order_id": vo["id"]},
        }
    )

    async def refunded() -> bool:
        return (await vendor_order(api, order["id"]))["refunded_cents"] == 1000

    await eventually(refunded)
    async with emulator(stack) as control:
        events = (await control.get("/v1/events", params={"type": "charge.refunded"})).json()
        mine = [e for e in events["data"] if e["data"]["object"]["payment_intent"] == intent["id"]]
        resent = await control.post(f"/_emulator/events/{mine[0]['id']}/resend")
        assert resent.status_code == 200, resent.text
    await asyncio.sleep(1)
    await ship_and_deliver(api, seller, vo["id"])
    done = await wait_for_order(api, order["id"], "completed")
    # 40.00 kept: 4.00 commission, 36.00 (and the postage) to the vendor; the refund counted once.
    postage = done["vendor_orders"][0]["shipping_cents"]
    assert (done["refunded_cents"], done["vendor_orders"][0]["payout_cents"]) == (
        1000,
        3600 + postage,
    )
    assert await reconcile(stack, stripe, order["id"]) == []


async def test_an_unnamed_outside_refund_is_shared_by_vendor_orders_by_what_they_can_refund(
    api: httpx.AsyncClient, stripe: StripeGateway, stack: DevStack
) -> None:
    big, small = await onboard(api, "Big"), await onboard(api, "Small")
    big_sku = await stock_product(api, big, price_cents=3000, on_hand=5)
    small_sku = await stock_product(api, small, price_cents=1000, on_hand=5)
    order = (await place(api, order_body([(big_sku, 1), (small_sku, 1)]))).json()
    intent = (await stripe.list_payment_intents_for(f"order-{order['id']}"))[0]
    await stripe_client(stack).v1.refunds.create_async(
        params={"payment_intent": intent["id"], "amount": 2000}
    )

    async def shared() -> dict[str, int] | None:
        whole = (await api.get(f"/v1/orders/{order['id']}", headers=PLATFORM)).json()
        if whole["refunded_cents"] != 2000:
            return None
        return {vo["vendor_id"]: vo["refunded_cents"] for vo in whole["vendor_orders"]}

    shares = await eventually(shared)
    assert shares is not None and sum(shares.values()) == 2000
    # Shared in proportion to what each could refund (goods and postage), to the cent.
    can = {
        vo["vendor_id"]: vo["subtotal_cents"] + vo["shipping_cents"]
        for vo in order["vendor_orders"]
    }
    assert abs(shares[big.id] - 2000 * can[big.id] / sum(can.values())) <= 1


def stripe_event(kind: str, obj: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": f"evt_{uuid.uuid4().hex[:16]}",
        "object": "event",
        "type": kind,
        "created": int(time.time()),
        "data": {"object": obj},
    }


def signature(payload: str, secret: str = DEV_WEBHOOK_SECRET, **when: int) -> str:
    return str(stripe.WebhookSignature.generate_signature_header(payload, secret, **when))


async def test_forged_tampered_unsigned_and_stale_webhooks_are_refused_and_change_nothing(
    api: httpx.AsyncClient,
) -> None:
    event = stripe_event(
        "charge.dispute.created", {"id": "dp_x", "object": "dispute", "payment_intent": "pi_x"}
    )
    payload = json.dumps(event)
    signed, forged = signature(payload), signature(payload, "whsec_wrong")
    stale = signature(payload, timestamp=int(time.time()) - 3600)
    url = "/v1/webhooks/stripe"
    for headers, body in (
        ({}, payload),
        ({"Stripe-Signature": forged}, payload),
        ({"Stripe-Signature": signed}, payload.replace("dp_x", "dp_y")),
        ({"Stripe-Signature": stale}, payload),
    ):
        refused = await api.post(url, content=body, headers=headers)
        assert refused.status_code == 400, refused.text
        assert refused.json()["code"] == "invalid_signature"
    first = await api.post(url, content=payload, headers={"Stripe-Signature": signed})
    twice = await api.post(url, content=payload, headers={"Stripe-Signature": signed})
    assert first.json() == {"received": True, "duplicate": False}
    assert twice.json() == {"received": True, "duplicate": True}


async def test_a_stripe_event_nothing_acts_on_is_acknowledged_without_being_recorded(
    api: httpx.AsyncClient, stack: DevStack
) -> None:
    # Three of these come with every checkout: each cost a row and a commit before.
    event = stripe_event("payment_intent.succeeded", {"id": "pi_x", "object": "payment_intent"})
    payload = json.dumps(event)
    signed, forged = signature(payload), signature(payload, "whsec_wrong")
    url = "/v1/webhooks/stripe"

    refused = await api.post(url, content=payload, headers={"Stripe-Signature": forged})
    answers = [
        await api.post(url, content=payload, headers={"Stripe-Signature": signed}) for _ in range(2)
    ]

    assert (refused.status_code, refused.json()["code"]) == (400, "invalid_signature")
    assert [a.json() for a in answers] == [{"received": True, "ignored": True}] * 2
    with connect_db(stack.env["DATABASE_URL"]) as db:
        seen = db.execute("SELECT count(*) FROM webhook_event WHERE id = %s", (event["id"],))
        assert seen.fetchone() == (0,)


async def test_a_dispute_holds_the_payout_and_winning_it_releases_the_payout(
    api: httpx.AsyncClient, stripe: StripeGateway, stack: DevStack
) -> None:
    seller = await onboard(api, "Disputed")
    sku = await stock_product(api, seller, price_cents=5000, on_hand=5)
    order = (await place(api, order_body([(sku, 1)]))).json()
    vo = order["vendor_orders"][0]
    intent = (await stripe.list_payment_intents_for(f"order-{order['id']}"))[0]
    async with emulator(stack) as control:
        opened = await control.post("/_emulator/disputes", json={"payment_intent": intent["id"]})
        assert opened.status_code == 200, opened.text
        dispute = opened.json()["id"]

        async def held() -> bool:
            return (await vendor_order(api, order["id"]))["attention"] == "dispute"

        await eventually(held)
        await ship_and_deliver(api, seller, vo["id"])
        await asyncio.sleep(5)  # the 3-second return window is over; the payout waits
        waiting = await vendor_order(api, order["id"])
        assert (waiting["status"], waiting["payout_status"]) == ("delivered", "pending")
        assert await stripe.list_transfers(f"order-{order['id']}") == []
        closed = await control.post(f"/_emulator/disputes/{dispute}/close", json={"status": "won"})
        assert closed.status_code == 200, closed.text
    done = await wait_for_order(api, order["id"], "completed")
    assert (done["vendor_orders"][0]["payout_status"], done["vendor_orders"][0]["attention"]) == (
        "released",
        None,
    )


async def test_a_payout_refused_by_a_restricted_account_is_flagged_then_paid_once_lifted(
    api: httpx.AsyncClient, stripe: StripeGateway, stack: DevStack
) -> None:
    seller = await onboard(api, "Restricted")
    sku = await stock_product(api, seller, price_cents=5000, on_hand=5)
    order = (await place(api, order_body([(sku, 1)]))).json()
    vo = order["vendor_orders"][0]
    async with emulator(stack) as control:
        await restrict(control, seller.account, True)
        await ship_and_deliver(api, seller, vo["id"])

        async def flagged() -> bool:
            return (await vendor_order(api, order["id"]))["attention"] == "payout_failed"

        await eventually(flagged)
        # Operators find it in the Temporal UI too.
        temporal = await connect(stack.env["TEMPORAL_ADDRESS"])
        query = f'AttentionNeeded = "payout_failed" AND VendorId = "{seller.id}"'

        async def visible() -> list[str]:
            return [wf.id async for wf in temporal.list_workflows(query)]

        assert await eventually(visible) == [vo["workflow_id"]]
        await restrict(control, seller.account, False)
    done = await wait_for_order(api, order["id"], "completed", within=30)
    postage = done["vendor_orders"][0]["shipping_cents"]
    assert (done["vendor_orders"][0]["payout_cents"], done["vendor_orders"][0]["attention"]) == (
        4500 + postage,
        None,
    )
    assert await reconcile(stack, stripe, order["id"]) == []


def stripe_client(stack: DevStack) -> stripe.StripeClient:
    return stripe.StripeClient(
        stack.env["STRIPE_API_KEY"],
        base_addresses={"api": stack.env["STRIPE_API_BASE"]},
        http_client=stripe.HTTPXClient(),
    )


async def test_a_transfer_reversed_in_the_dashboard_is_recorded_flagged_and_reported(
    api: httpx.AsyncClient, stripe: StripeGateway, stack: DevStack
) -> None:
    seller = await onboard(api, "ReversedOutside")
    sku = await stock_product(api, seller, price_cents=5000, on_hand=5)
    order = await paid_order(api, seller, sku)
    (transfer,) = await stripe.list_transfers(f"order-{order['id']}")
    await stripe_client(stack).v1.transfers.reversals.create_async(
        transfer["id"], params={"amount": 1000}
    )

    async def flagged() -> dict[str, Any] | None:
        vo = await vendor_order(api, order["id"])
        return vo if vo["attention"] == "payout_reversed_outside" else None

    vo = await eventually(flagged)
    assert (vo["payout_status"], vo["payout_cents"]) == ("reversed", 4500 + vo["shipping_cents"])
    # The ledger follows Stripe; the 10.00 the platform now holds for the vendor is reported.
    found = await reconcile(stack, stripe, order["id"])
    assert [(m.what, m.ledger, m.provider) for m in found] == [
        ("books of a finished order", 0, 1000)
    ]
    # The command finance runs says the same, and fails.
    code, printed = await reconcile_command(stack, order["id"])
    assert code == 1
    assert f"{order['id']}: books of a finished order: ledger=0 stripe=1000" in printed
    clean = await paid_order(api, seller, sku)
    assert await reconcile_command(stack, clean["id"]) == (0, "the ledger matches Stripe")


async def test_a_lost_dispute_takes_the_disputed_money_from_the_payouts_it_held(
    api: httpx.AsyncClient, stripe: StripeGateway, stack: DevStack
) -> None:
    seller = await onboard(api, "Lost")
    sku = await stock_product(api, seller, price_cents=5000, on_hand=5)
    order = (await place(api, order_body([(sku, 1)]))).json()
    vo = order["vendor_orders"][0]
    intent = (await stripe.list_payment_intents_for(f"order-{order['id']}"))[0]
    async with emulator(stack) as control:
        opened = await control.post(
            "/_emulator/disputes", json={"payment_intent": intent["id"], "amount": 2000}
        )
        assert opened.status_code == 200, opened.text

        async def held() -> bool:
            return (await vendor_order(api, order["id"]))["attention"] == "dispute"

        await eventually(held)
        await ship_and_deliver(api, seller, vo["id"])
        closed = await control.post(
            f"/_emulator/disputes/{opened.json()['id']}/close", json={"status": "lost"}
        )
        assert closed.status_code == 200, closed.text
    done = await wait_for_order(api, order["id"], "completed")
    paid = done["vendor_orders"][0]
    # 20.00 taken back by the card network: commission on the 30.00 kept, 27.00 paid.
    assert (done["refunded_cents"], paid["commission_cents"], paid["payout_cents"]) == (
        2000,
        300,
        2700 + paid["shipping_cents"],
    )
    (transfer,) = await stripe.list_transfers(f"order-{order['id']}")
    assert transfer["amount"] == 2700 + paid["shipping_cents"]
    assert await reconcile(stack, stripe, order["id"]) == []


async def reconcile_command(stack: DevStack, order_id: str) -> tuple[int | None, str]:
    """`fulfillment reconcile --order ID` against the stack: (exit code, what it printed)."""
    cli = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "cli",
        "reconcile",
        "--order",
        order_id,
        env={**os.environ, **stack.env},
        stdout=asyncio.subprocess.PIPE,
    )
    printed, _ = await cli.communicate()
    return cli.returncode, printed.decode().strip()
