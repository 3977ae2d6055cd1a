"""A vendor is never paid twice: the payout activity against the real database and a Stripe
emulator that loses answers on purpose."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.exceptions import ApplicationError

from activities.payments import PaymentActivities
from activities.refunds import RefundActivities
from models.ledger import LedgerEntry
from models.messages.money import PayoutOutcome, PayoutRequest, RefundCommand, ReversalCommand
from providers.stripe_adapter import StripeGateway
from stores import ledger
from stores.ledger import vendor_order_of
from tests.money_helpers import (
    PaidOrder,
    emulator_url,
    gateway,
    seed_paid_order,
)
from tests.stripe_helpers import control, unique

__all__ = ["emulator_url", "gateway"]


@pytest.fixture
async def faults_stopped(emulator_url: str) -> AsyncIterator[None]:
    yield
    await control(emulator_url, "DELETE", "/_emulator/faults")


async def vendor_order_to_pay(
    sessions: async_sessionmaker[AsyncSession], gateway: StripeGateway, subtotal: int
) -> tuple[PaidOrder, str]:
    account = await gateway.create_connected_account(
        email="vendor@example.com", idempotency_key=unique("vendor"), metadata={}
    )
    order = await seed_paid_order(sessions, gateway, [subtotal], stripe_account_id=account)
    return order, order.vendor_orders[0]


async def lose_the_next_answer(emulator_url: str, path: str = "/v1/transfers") -> None:
    """The next POST under `path` is made, and its answer never reaches the caller."""
    plan = {
        "rate": 1.0,
        "modes": ["timeout_after"],
        "methods": ["POST"],
        "paths": [path],
        "count": 1,
        "timeout_seconds": 2.0,
    }
    await control(emulator_url, "POST", "/_emulator/faults", plan)


async def transfers_at_stripe(gateway: StripeGateway, order: PaidOrder) -> list[tuple[str, int]]:
    found = await gateway.list_transfers(f"order-{order.order_id}")
    return [(str(t["id"]), int(t["amount"])) for t in found]


async def transfer_in_ledger(
    sessions: async_sessionmaker[AsyncSession], vendor_order_id: str
) -> list[tuple[str | None, int]]:
    async with sessions() as session:
        entries = await session.exec(
            select(LedgerEntry).where(
                LedgerEntry.vendor_order_id == vendor_order_id, LedgerEntry.kind == "transfer"
            )
        )
        return [(e.provider_id, e.amount_cents) for e in entries]


@dataclass
class RefundedAfterPayout:
    """A vendor paid 36.00, then a refund of 10.00: its share (9.00) is to be taken back."""

    order_id: str
    vendor_order: str
    transfer_id: str
    refunds: RefundActivities

    def step(self, name: str) -> ReversalCommand:
        return ReversalCommand(order_id=self.order_id, vendor_order_id=self.vendor_order, step=name)


async def refunded_after_payout(
    sessions: async_sessionmaker[AsyncSession], gateway: StripeGateway
) -> RefundedAfterPayout:
    order, vendor_order = await vendor_order_to_pay(sessions, gateway, 4000)
    refunds = RefundActivities(sessions, gateway)
    paid = await PaymentActivities(sessions, gateway).pay_vendor(
        PayoutRequest(vendor_order_id=vendor_order, order_id=order.order_id)
    )
    await refunds.refund(
        RefundCommand(
            order_id=order.order_id,
            vendor_order_id=vendor_order,
            refund_key="goodwill",
            amount_cents=1000,
        )
    )
    return RefundedAfterPayout(order.order_id, vendor_order, paid.transfer_id, refunds)


async def reversals_in_ledger(
    sessions: async_sessionmaker[AsyncSession], vendor_order_id: str
) -> list[tuple[str | None, int]]:
    async with sessions() as session:
        entries = await session.exec(
            select(LedgerEntry).where(
                LedgerEntry.vendor_order_id == vendor_order_id,
                LedgerEntry.kind == "transfer_reversal",
            )
        )
        return [(e.provider_id, e.amount_cents) for e in entries]


async def test_a_payout_tried_under_a_new_key_records_the_transfer_an_earlier_try_made(
    emulator_url: str,
    sessions: async_sessionmaker[AsyncSession],
    gateway: StripeGateway,
    faults_stopped: None,
) -> None:
    # Given a vendor order of 40.00 (10% commission: 36.00 to pay) whose first payout try
    # made the transfer but lost its answer
    order, vendor_order = await vendor_order_to_pay(sessions, gateway, 4000)
    payments = PaymentActivities(sessions, gateway)
    await lose_the_next_answer(emulator_url)
    with pytest.raises(ApplicationError) as lost:
        await payments.pay_vendor(
            PayoutRequest(vendor_order_id=vendor_order, order_id=order.order_id)
        )

    # When the payout is tried again under the next attempt's key
    outcome = await payments.pay_vendor(
        PayoutRequest(vendor_order_id=vendor_order, order_id=order.order_id, attempt=1)
    )

    # Then the transfer the first try made is recorded, and no second one is made
    assert (lost.value.type, lost.value.non_retryable) == ("provider_unavailable", False)
    [(transfer_id, amount)] = await transfers_at_stripe(gateway, order)
    assert amount == 3600
    assert outcome == PayoutOutcome(transfer_id=transfer_id, amount_cents=3600, to_reverse_cents=0)
    assert await transfer_in_ledger(sessions, vendor_order) == [(transfer_id, 3600)]


async def test_a_refund_recorded_between_a_lost_transfer_and_its_retry_is_to_be_reversed(
    emulator_url: str,
    sessions: async_sessionmaker[AsyncSession],
    gateway: StripeGateway,
    faults_stopped: None,
) -> None:
    # Given a payout of 36.00 made at Stripe whose answer was lost, and then a refund of 5.00
    # recorded before the payout was tried again (the payout is now 31.50: commission 3.50)
    order, vendor_order = await vendor_order_to_pay(sessions, gateway, 4000)
    payments = PaymentActivities(sessions, gateway)
    refunds = RefundActivities(sessions, gateway)
    await lose_the_next_answer(emulator_url)
    with pytest.raises(ApplicationError):
        await payments.pay_vendor(
            PayoutRequest(vendor_order_id=vendor_order, order_id=order.order_id)
        )
    refunded = await refunds.refund(
        RefundCommand(
            order_id=order.order_id,
            vendor_order_id=vendor_order,
            refund_key="goodwill",
            amount_cents=500,
        )
    )

    # When the payout is retried with the same key (its amount is no longer the same)
    outcome = await payments.pay_vendor(
        PayoutRequest(vendor_order_id=vendor_order, order_id=order.order_id)
    )

    # Then it is no refusal: the one transfer is recorded as made, and the 4.50 paid too much
    # is reported for the workflow to take back
    [(transfer_id, amount)] = await transfers_at_stripe(gateway, order)
    assert (refunded.amount_cents, amount) == (500, 3600)
    assert outcome == PayoutOutcome(
        transfer_id=transfer_id, amount_cents=3600, to_reverse_cents=450
    )
    assert await transfer_in_ledger(sessions, vendor_order) == [(transfer_id, 3600)]
    # And asking again answers the same, from the ledger
    again = await payments.pay_vendor(
        PayoutRequest(vendor_order_id=vendor_order, order_id=order.order_id, attempt=2)
    )
    assert again == outcome
    assert len(await transfers_at_stripe(gateway, order)) == 1


async def test_a_payout_with_no_earlier_transfer_is_made_once(
    sessions: async_sessionmaker[AsyncSession], gateway: StripeGateway
) -> None:
    # Given a vendor order of 25.00 nobody has paid yet
    order, vendor_order = await vendor_order_to_pay(sessions, gateway, 2500)
    payments = PaymentActivities(sessions, gateway)

    # When it is paid, and the activity runs again
    outcome = await payments.pay_vendor(
        PayoutRequest(vendor_order_id=vendor_order, order_id=order.order_id)
    )
    again = await payments.pay_vendor(
        PayoutRequest(vendor_order_id=vendor_order, order_id=order.order_id)
    )

    # Then one transfer of 22.50 carries the vendor order's id, and both answers name it
    [(transfer_id, amount)] = await transfers_at_stripe(gateway, order)
    assert (amount, outcome, again) == (
        2250,
        PayoutOutcome(transfer_id=transfer_id, amount_cents=2250, to_reverse_cents=0),
        PayoutOutcome(transfer_id=transfer_id, amount_cents=2250, to_reverse_cents=0),
    )
    [made] = await gateway.transfers_of(f"order-{order.order_id}", vendor_order)
    assert made.transfer_id == transfer_id
    assert await gateway.transfers_of(f"order-{order.order_id}", "vo_someone_else") == []


async def test_a_reversal_whose_answer_was_lost_is_recorded_as_made_when_the_amount_changed(
    emulator_url: str,
    sessions: async_sessionmaker[AsyncSession],
    gateway: StripeGateway,
    faults_stopped: None,
) -> None:
    # Given a vendor paid 36.00, then a refund of 10.00: the vendor's share is to be reversed,
    # and Stripe makes that reversal but its answer is lost
    order, vendor_order = await vendor_order_to_pay(sessions, gateway, 4000)
    payments = PaymentActivities(sessions, gateway)
    refunds = RefundActivities(sessions, gateway)
    paid = await payments.pay_vendor(
        PayoutRequest(vendor_order_id=vendor_order, order_id=order.order_id)
    )
    goodwill = RefundCommand(
        order_id=order.order_id,
        vendor_order_id=vendor_order,
        refund_key="goodwill",
        amount_cents=1000,
    )
    await refunds.refund(goodwill)
    await lose_the_next_answer(emulator_url, f"/v1/transfers/{paid.transfer_id}/reversals")
    step = ReversalCommand(order_id=order.order_id, vendor_order_id=vendor_order, step="re_1")
    with pytest.raises(ApplicationError):
        await refunds.reverse_payout(step)
    # When another refund is recorded before the reversal is tried again (the amount to
    # reverse is no longer the same: simulation seed 840, where Stripe refused the key)
    await refunds.refund(goodwill.model_copy(update={"refund_key": "more", "amount_cents": 500}))
    outcome = await refunds.reverse_payout(step)
    # Then the reversal Stripe made is recorded as it was made, once
    reversals = await gateway.list_reversals(paid.transfer_id)
    assert [int(r["amount"]) for r in reversals] == [outcome.reversed_cents]
    assert outcome.reversed_cents == 900  # the vendor's share of the 10.00 (commission 10%)
    async with sessions() as session:
        entries = await session.exec(
            select(LedgerEntry).where(
                LedgerEntry.vendor_order_id == vendor_order,
                LedgerEntry.kind == "transfer_reversal",
            )
        )
        assert [(e.provider_id, e.amount_cents) for e in entries] == [(reversals[0]["id"], 900)]


async def test_two_reversals_of_one_vendor_order_at_once_take_back_its_share_once(
    sessions: async_sessionmaker[AsyncSession], gateway: StripeGateway
) -> None:
    # Given a vendor paid 36.00, then a refund of 10.00 whose vendor share (9.00) is to be
    # taken back, and two reversal steps asked at once (the vendor order's own and an
    # adjustment's, both retried as a restarted worker came back: simulation seed 935)
    refunded = await refunded_after_payout(sessions, gateway)
    steps = [refunded.step(name) for name in ("re_own", "re_adjustment")]
    outcomes = await asyncio.gather(*(refunded.refunds.reverse_payout(s) for s in steps))
    # Then the share is taken back once, by one of them, and the ledger says what Stripe did
    reversals = await gateway.list_reversals(refunded.transfer_id)
    assert [int(r["amount"]) for r in reversals] == [900]
    assert sorted(o.reversed_cents for o in outcomes) == [0, 900]
    entries = await reversals_in_ledger(sessions, refunded.vendor_order)
    assert [amount for _, amount in entries] == [900]


async def test_a_reversal_made_but_unanswered_is_counted_before_another_step_plans_its_own(
    emulator_url: str,
    sessions: async_sessionmaker[AsyncSession],
    gateway: StripeGateway,
    faults_stopped: None,
) -> None:
    # Given a vendor paid 36.00, then a refund of 10.00 whose vendor share (9.00) is to be
    # taken back; one step's reversal is made by Stripe but its answer is lost, and that step
    # waits for its retry (simulation seed 940)
    refunded = await refunded_after_payout(sessions, gateway)
    first, second = refunded.step("re_lost"), refunded.step("re_next")
    await lose_the_next_answer(emulator_url, f"/v1/transfers/{refunded.transfer_id}/reversals")
    with pytest.raises(ApplicationError):
        await refunded.refunds.reverse_payout(first)
    # When another step plans its reversal before that retry, and then the retry comes
    later = await refunded.refunds.reverse_payout(second)
    retried = await refunded.refunds.reverse_payout(first)
    # Then the share was taken back once, and the ledger holds that one reversal
    reversals = await gateway.list_reversals(refunded.transfer_id)
    assert [int(r["amount"]) for r in reversals] == [900]
    assert (later.reversed_cents, retried.reversed_cents) == (0, 900)
    entries = await reversals_in_ledger(sessions, refunded.vendor_order)
    assert entries == [(reversals[0]["id"], 900)]
    # ... and nothing is left to take back or to give up in commission
    async with sessions() as session:
        money = await ledger.money_of(
            session, await vendor_order_of(session, refunded.vendor_order)
        )
        assert (money.to_reverse_cents, money.commission_to_record_cents) == (0, 0)
