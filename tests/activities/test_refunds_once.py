"""A refund the system makes gives the money back once: the refund activity run again, after
its answer was lost or after it finished, finds the refund Stripe made and records it once.
Against the real database and a Stripe emulator that loses answers on purpose."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.exceptions import ApplicationError

from activities.refunds import RefundActivities
from models.messages.money import RefundCommand, RefundOutcome
from providers.stripe_adapter import StripeGateway
from stores import refunds_in_flight
from tests.money_helpers import (
    PaidOrder,
    emulator_url,
    gateway,
    refund_entries,
    refunded_of,
    seed_paid_order,
)
from tests.stripe_helpers import lose_the_next_answer

__all__ = ["emulator_url", "gateway"]


def damaged_item(order: PaidOrder) -> RefundCommand:
    """15.00 back for a damaged item, on the order's one vendor order."""
    return RefundCommand(
        order_id=order.order_id,
        vendor_order_id=order.vendor_orders[0],
        refund_key="damaged",
        amount_cents=1500,
    )


async def recorded(
    sessions: async_sessionmaker[AsyncSession], order: PaidOrder
) -> tuple[list[tuple[str | None, str, int]], int]:
    """The order's refunds in the ledger (vendor order, ledger key, cents), and its total."""
    return await refund_entries(sessions, order.order_id), await refunded_of(
        sessions, order.order_id
    )


async def test_a_refund_run_again_after_it_finished_refunds_once(
    sessions: async_sessionmaker[AsyncSession], gateway: StripeGateway
) -> None:
    # Given an order of 40.00 refunded 15.00
    order = await seed_paid_order(sessions, gateway, [4000])
    refunds = RefundActivities(sessions, gateway)
    refunded = await refunds.refund(damaged_item(order))

    # When the refund activity runs again (its answer never reached the workflow)
    again = await refunds.refund(damaged_item(order))

    # Then Stripe made one refund, both answers name it, and the ledger counts it once
    [made] = await gateway.list_refunds(order.charge.payment_intent_id)
    outcome = RefundOutcome(
        provider_refund_id=made["id"], amount_cents=1500, refunded_cents=1500, to_reverse_cents=0
    )
    assert (made["amount"], refunded, again) == (1500, outcome, outcome)
    vendor_order = order.vendor_orders[0]
    damaged = (vendor_order, f"{vendor_order}:refund:damaged", 1500)
    assert await recorded(sessions, order) == ([damaged], 1500)


async def test_a_refund_whose_answer_was_lost_is_made_once_when_retried(
    emulator_url: str,
    sessions: async_sessionmaker[AsyncSession],
    gateway: StripeGateway,
    no_faults_after: None,
) -> None:
    # Given an order of 40.00 whose refund of 15.00 Stripe made, its answer lost
    order = await seed_paid_order(sessions, gateway, [4000])
    refunds = RefundActivities(sessions, gateway)
    await lose_the_next_answer(emulator_url, "/v1/refunds")
    with pytest.raises(ApplicationError) as lost:
        await refunds.refund(damaged_item(order))

    # When Temporal retries the activity
    retried = await refunds.refund(damaged_item(order))

    # Then the refund Stripe made is the one recorded, once, and nothing is left in flight
    assert (lost.value.type, lost.value.non_retryable) == ("provider_unavailable", False)
    [made] = await gateway.list_refunds(order.charge.payment_intent_id)
    assert (made["id"], made["amount"]) == (retried.provider_refund_id, 1500)
    vendor_order = order.vendor_orders[0]
    damaged = (vendor_order, f"{vendor_order}:refund:damaged", 1500)
    assert await recorded(sessions, order) == ([damaged], 1500)
    async with sessions() as session:
        assert await refunds_in_flight.cents_of(session, vendor_order) == 0
