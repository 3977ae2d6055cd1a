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
from models.messages.money import (
    PayoutOutcome,
    PayoutRequest,
    RefundCommand,
    ReversalCommand,
    ReversalOutcome,
)
from models.vendor import Vendor
from providers.stripe_adapter import StripeGateway
from stores import ledger
from stores.ledger import vendor_order_of
from tests.money_helpers import (
    PaidOrder,
    emulator_url,
    gateway,
    seed_paid_order,
)
from tests.stripe_helpers import control, lose_the_next_answer, unique

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


async def movements(
    sessions: async_sessionmaker[AsyncSession], vendor_order_id: str
) -> list[tuple[str, int]]:
    """(kind, cents) of each ledger entry of the vendor order, oldest first."""
    async with sessions() as session:
        return [(e.kind, e.amount_cents) for e in await ledger.entries_of(session, vendor_order_id)]


async def payout_to_make(
    sessions: async_sessionmaker[AsyncSession], gateway: StripeGateway
) -> tuple[PaidOrder, PayoutRequest]:
    """A vendor order of 40.00 (10% commission: 36.00 to pay) nobody has paid yet: its payout."""
    order, vendor_order = await vendor_order_to_pay(sessions, gateway, 4000)
    return order, PayoutRequest(vendor_order_id=vendor_order, order_id=order.order_id)


async def test_a_retried_pay_vendor_transfers_once_and_records_it_once(
    sessions: async_sessionmaker[AsyncSession], gateway: StripeGateway
) -> None:
    # Given a vendor order of 40.00 (10% commission: 36.00 to pay) whose payout was made
    order, request = await payout_to_make(sessions, gateway)
    payments = PaymentActivities(sessions, gateway)
    paid = await payments.pay_vendor(request)

    # When the activity is retried with the same request (its answer lost on the way back)
    retried = await payments.pay_vendor(request)

    # Then Stripe holds one transfer, and the ledger one transfer and one commission
    [(transfer_id, amount)] = await transfers_at_stripe(gateway, order)
    made = PayoutOutcome(transfer_id=transfer_id, amount_cents=3600, to_reverse_cents=0)
    assert (amount, paid, retried) == (3600, made, made)
    assert await movements(sessions, request.vendor_order_id) == [
        ("transfer", 3600),
        ("commission", 400),
    ]
    async with sessions() as session:
        totals = await vendor_order_of(session, request.vendor_order_id)
    assert (totals.payout_cents, totals.commission_cents, totals.payout_status) == (
        3600,
        400,
        "released",
    )


async def test_a_pay_vendor_retried_while_its_first_attempt_still_runs_transfers_once(
    sessions: async_sessionmaker[AsyncSession], gateway: StripeGateway
) -> None:
    # Given a vendor order of 40.00 nobody has paid yet, whose payout runs twice at once
    # (Temporal retries an attempt that timed out while it still runs on another worker)
    order, request = await payout_to_make(sessions, gateway)

    # When both attempts run to their end
    payments = PaymentActivities(sessions, gateway)
    outcomes = await asyncio.gather(payments.pay_vendor(request), payments.pay_vendor(request))

    # Then one transfer is made and recorded, and both attempts answer it
    [(transfer_id, amount)] = await transfers_at_stripe(gateway, order)
    paid = PayoutOutcome(transfer_id=transfer_id, amount_cents=3600, to_reverse_cents=0)
    assert (amount, outcomes) == (3600, [paid, paid])
    assert await movements(sessions, request.vendor_order_id) == [
        ("transfer", 3600),
        ("commission", 400),
    ]


async def test_concurrent_payouts_of_one_vendor_net_its_debt_once(
    emulator_url: str, sessions: async_sessionmaker[AsyncSession], gateway: StripeGateway
) -> None:
    # Given a vendor that owes 9.00: paid 36.00 for an order, 10.00 of which was refunded
    # after its Stripe balance was paid out, so taking its share back was refused
    refunded = await refunded_after_payout(sessions, gateway)
    async with sessions() as session:
        vendor_id = (await vendor_order_of(session, refunded.vendor_order)).vendor_id
        vendor = await session.get(Vendor, vendor_id)
    assert vendor is not None and vendor.stripe_account_id is not None
    balance = f"/_emulator/accounts/{vendor.stripe_account_id}/balance"
    await control(emulator_url, "POST", balance, {"available": 0})
    owed = await refunded.refunds.reverse_payout(refunded.step("re_1"))
    # and two more of its orders to pay: 40.00 and 20.00 (36.00 and 18.00 due)
    orders = [
        await seed_paid_order(sessions, gateway, [cents], vendor_id=vendor_id)
        for cents in (4000, 2000)
    ]
    requests = [
        PayoutRequest(vendor_order_id=o.vendor_orders[0], order_id=o.order_id) for o in orders
    ]

    # When both payouts run at once
    payments = PaymentActivities(sessions, gateway)
    paid = await asyncio.gather(*(payments.pay_vendor(r) for r in requests))

    # Then the 9.00 is netted once, against one of them, and the rest of both is transferred
    assert owed == ReversalOutcome(reversed_cents=0, debt_cents=900)
    settled = [
        cents
        for request in requests
        for kind, cents in await movements(sessions, request.vendor_order_id)
        if kind == "debt_settled"
    ]
    assert settled == [900]
    assert sum(p.amount_cents for p in paid) == 3600 + 1800 - 900
    at_stripe = [amount for o in orders for _, amount in await transfers_at_stripe(gateway, o)]
    assert at_stripe == [p.amount_cents for p in paid]
    async with sessions() as session:
        assert await ledger.debt_of_vendor(session, vendor_id) == 0
