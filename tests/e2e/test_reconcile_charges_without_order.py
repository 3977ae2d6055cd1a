"""Reconciliation sees money the ledger never saw: a succeeded charge at Stripe that names an
order (in `metadata.order_id`, or as its `order-...` transfer group) which is unknown, rejected
or still pending is reported until it is refunded in full."""

from __future__ import annotations

import secrets
from typing import Any

import httpx
from sqlalchemy import text
from stripe import StripeClient

from devstack.stack import DevStack
from domain.ids import order_workflow_id
from providers.stripe_adapter import StripeGateway
from stores.db import execute_sql, make_engine, make_sessionmaker
from tests.e2e.client import onboard, order_body, place, stock_product
from tests.e2e.money import reconcile
from tests.stripe_helpers import sdk_client

WHY = "charge without a confirmed order"


async def charge_outside(
    client: StripeClient,
    amount: int,
    *,
    metadata: dict[str, str] | None = None,
    transfer_group: str | None = None,
) -> str:
    """A PaymentIntent made through the official SDK, not through the saga."""
    params: dict[str, Any] = {
        "amount": amount,
        "currency": "usd",
        "payment_method": "pm_card_visa",
        "confirm": True,
        "allowed_payment_method_types": ["card"],
        "metadata": metadata or {},
    }
    if transfer_group is not None:
        params["transfer_group"] = transfer_group
    intent = await client.v1.payment_intents.create_async(params)  # type: ignore[arg-type]
    assert intent.status == "succeeded"
    return intent.id


async def order_status_of_customer(stack: DevStack, customer_id: str) -> tuple[str, str]:
    engine = make_engine(stack.env["DATABASE_URL"], pool_size=1)
    try:
        async with make_sessionmaker(engine)() as session:
            row = (
                await execute_sql(
                    session,
                    text("SELECT id, status FROM orders WHERE customer_id = :c"),
                    {"c": customer_id},
                )
            ).one()
    finally:
        await engine.dispose()
    return str(row.id), str(row.status)


async def test_charges_for_a_rejected_or_unknown_order_are_reported_until_refunded_in_full(
    api: httpx.AsyncClient, stack: DevStack, stripe: StripeGateway
) -> None:
    # Given a confirmed order, an order rejected for a declined card, and charges made at
    # Stripe for the rejected order, for an unknown one, for an unknown transfer group, and
    # for an unknown order then refunded in full,
    seller = await onboard(api, "OrphanCharges")
    sku = await stock_product(api, seller, price_cents=1500, on_hand=5)
    confirmed = await place(api, order_body([(sku, 1)]))
    assert confirmed.status_code == 201, confirmed.text
    declined_body = order_body([(sku, 1)], payment_method="pm_card_visa_chargeDeclined")
    declined = await place(api, declined_body)
    assert declined.status_code == 402, declined.text
    rejected_id, status = await order_status_of_customer(stack, declined_body["customer_id"])
    assert status == "rejected"
    unknown, grouped, refunded = (f"ord_{secrets.token_hex(12)}" for _ in range(3))
    async with sdk_client(stack.env["STRIPE_API_BASE"], stack.env["STRIPE_API_KEY"]) as client:
        on_rejected = await charge_outside(client, 1500, metadata={"order_id": rejected_id})
        on_unknown = await charge_outside(client, 2200, metadata={"order_id": unknown})
        by_group = await charge_outside(client, 900, transfer_group=order_workflow_id(grouped))
        given_back = await charge_outside(client, 700, metadata={"order_id": refunded})
        await client.v1.refunds.create_async({"payment_intent": given_back})

    # when the ledger is reconciled with Stripe,
    found = await reconcile(
        stack, stripe, confirmed.json()["id"], rejected_id, unknown, grouped, refunded
    )

    # then each charge still holding money without a confirmed order is one discrepancy.
    assert len(found) == 3, found
    assert {m.order_id: (m.what, m.ledger, m.provider) for m in found} == {
        rejected_id: (
            f"{WHY} (order is rejected)",
            None,
            {"payment_intent": on_rejected, "kept_cents": 1500},
        ),
        unknown: (
            f"{WHY} (no such order)",
            None,
            {"payment_intent": on_unknown, "kept_cents": 2200},
        ),
        grouped: (f"{WHY} (no such order)", None, {"payment_intent": by_group, "kept_cents": 900}),
    }
    # An operator reconciling one order sees only that order's.
    assert [m.order_id for m in await reconcile(stack, stripe, unknown)] == [unknown]
