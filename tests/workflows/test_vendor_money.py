"""A vendor order's money in its workflow: refunds, disputes and failed payouts."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from domain.ids import vendor_order_workflow_id
from models.messages.money import DisputeSignal, ExternalRefund, RefundCommand, RefundOutcome
from models.messages.shipping import ShipRequest
from tests.workflows.fakes import FakeWorld
from tests.workflows.test_order_saga import check_out, order_input, with_timing


async def one_vendor_order(
    env: WorkflowEnvironment, task_queue: str, fake: FakeWorld
) -> tuple[str, str, WorkflowHandle]:
    order = order_input()
    await check_out(env, task_queue, order)
    plan = next(p for p in fake.confirmed[order.order_id].vendor_orders if p.vendor_id == "ven_a")
    child = env.client.get_workflow_handle(vendor_order_workflow_id(order.order_id, "ven_a"))
    return order.order_id, plan.vendor_order_id, child


async def ship_and_deliver(child: WorkflowHandle) -> None:
    await child.execute_update("ship", ShipRequest(carrier="ups", tracking_number="1Z"))
    await child.execute_update("deliver")


async def payout_refused_then_retried(fake: FakeWorld, child: WorkflowHandle) -> None:
    """Shipped and delivered; the payout refused six times (a restricted account), then an
    operator fixes the account and asks for a retry: the vendor order completes."""
    fake.refusing_payouts = True
    await ship_and_deliver(child)
    await until(lambda: fake.payout_attempts >= 6, within=60)
    fake.refusing_payouts = False
    await child.signal("retry_payout")
    assert await child.result() == "completed"


async def until(predicate: Callable[[], bool], within: float = 10) -> None:
    """Poll the fake world (it changes from activities run by the worker)."""
    for _ in range(int(within / 0.05)):
        if predicate():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the condition never held")


async def test_a_refund_before_the_payout_lowers_the_payout_and_the_commission(
    env: WorkflowEnvironment, task_queue: str, fake: FakeWorld
) -> None:
    order_id, vendor_order_id, child = await one_vendor_order(env, task_queue, fake)
    # Three brakes at 20.00: refund one of them.
    outcome = await child.execute_update(
        "refund",
        RefundCommand(
            order_id=order_id, vendor_order_id=vendor_order_id, refund_key="r1", amount_cents=2000
        ),
        result_type=RefundOutcome,
    )
    assert (outcome.refunded_cents, outcome.to_reverse_cents) == (2000, 0)
    await ship_and_deliver(child)
    assert await child.result() == "completed"
    # 40.00 of goods kept, 10% commission: 36.00 to the vendor.
    assert fake.payouts == {vendor_order_id: 3600}


async def test_a_payout_refused_for_the_vendors_account_is_flagged_and_paid_once_fixed(
    env: WorkflowEnvironment, task_queue: str, fake: FakeWorld
) -> None:
    _, vendor_order_id, child = await one_vendor_order(env, task_queue, fake)
    fake.refusing_payouts = True
    await ship_and_deliver(child)
    await until(lambda: (vendor_order_id, "payout_failed") in fake.attention)
    assert fake.payouts == {}
    fake.refusing_payouts = False
    await child.signal("retry_payout")
    assert await child.result() == "completed"
    assert fake.payouts == {vendor_order_id: 5400}
    assert [a for vo, a in fake.attention if vo == vendor_order_id] == ["payout_failed", None]


async def test_a_dispute_holds_the_payout_until_closed_in_the_merchants_favour(
    env: WorkflowEnvironment, task_queue: str, fake: FakeWorld
) -> None:
    _, vendor_order_id, child = await one_vendor_order(env, task_queue, fake)
    await child.signal("dispute", DisputeSignal(dispute_id="dp_1", status="needs_response"))
    await ship_and_deliver(child)
    await until(lambda: (vendor_order_id, "dispute") in fake.attention)
    # The 14-day window passes in skipped time; the payout still waits for the dispute.
    await asyncio.sleep(1)
    assert fake.payout_attempts == 0
    await child.signal("dispute", DisputeSignal(dispute_id="dp_1", status="won"))
    assert await child.result() == "completed"
    assert fake.payouts == {vendor_order_id: 5400}
    assert [a for vo, a in fake.attention if vo == vendor_order_id] == ["dispute", None]


async def test_an_outside_refund_before_the_payout_is_taken_from_the_vendors_payout(
    env: WorkflowEnvironment, task_queue: str, fake: FakeWorld
) -> None:
    order_id, vendor_order_id, child = await one_vendor_order(env, task_queue, fake)
    await child.signal(
        "external_refund",
        ExternalRefund(
            order_id=order_id,
            vendor_order_id=vendor_order_id,
            provider_refund_id="re_dashboard",
            amount_cents=1000,
        ),
    )
    await ship_and_deliver(child)
    assert await child.result() == "completed"
    # 50.00 of goods kept: commission 5.00, payout 45.00.
    assert fake.payouts == {vendor_order_id: 4500}


async def test_a_vendor_order_renews_its_stock_hold_until_it_ships(
    env: WorkflowEnvironment, task_queue: str, fake: FakeWorld
) -> None:
    order = with_timing(order_input(), hold_seconds=60.0)
    await check_out(env, task_queue, order)
    child = env.client.get_workflow_handle(vendor_order_workflow_id(order.order_id, "ven_a"))
    plan = next(p for p in fake.confirmed[order.order_id].vendor_orders if p.vendor_id == "ven_a")
    # Waiting for the vendor in skipped time: the hold is renewed every 30 seconds.
    await until(lambda: fake.renewals.count(plan.vendor_order_id) >= 3)
    await child.execute_update("ship", ShipRequest(carrier="ups", tracking_number="1Z"))
    renewed = fake.renewals.count(plan.vendor_order_id)
    await child.execute_update("deliver")
    assert await child.result() == "completed"
    # At most the renewal already running when the ship update arrived; none after.
    assert fake.renewals.count(plan.vendor_order_id) <= renewed + 1
