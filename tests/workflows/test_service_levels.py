"""Service levels, cancellation and returns as durable timers, in skipped time."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment

from domain.ids import vendor_order_workflow_id
from models.messages.checkout import OrderInput
from models.messages.returns import ReceiveRequest, ReturnRequest, ReturnState, ReturnUnits
from models.messages.shipping import ShipRequest, TrackingProblem
from models.messages.vendor_order import CancelRequest, VendorOrderState
from tests.workflows.fakes import FakeWorld
from tests.workflows.test_order_saga import check_out, order_input
from tests.workflows.test_vendor_money import until

HOUR = 3600.0
DAY = 24 * HOUR


@pytest.fixture
def fake(fake: FakeWorld) -> FakeWorld:
    # Vendor A ships within a day; vendor B has no SLA timers in these tests' orders.
    fake.catalog["BRAKE-01"].ship_sla_seconds = DAY
    return fake


def timed_order(**timers: float | None) -> OrderInput:
    base = {
        "auto_cancel_seconds": 2 * DAY,
        "delivery_overdue_seconds": 10 * DAY,
        "return_expires_seconds": 14 * DAY,
        # Renewals every half hold would be hundreds of activities over days of skipped time.
        "hold_seconds": 60 * DAY,
    }
    return order_input().model_copy(update={**base, **timers})


async def vendor_a(
    env: WorkflowEnvironment,
    task_queue: str,
    fake: FakeWorld,
    order: OrderInput,
    *,
    skipping: bool = True,
) -> tuple[str, WorkflowHandle]:
    """Vendor A's order. Without `skipping` time stands still until the test fast-forwards
    it (a return must be opened inside the window, before its timer is skipped over)."""
    if skipping:
        await check_out(env, task_queue, order)
    else:
        with env.with_time_skipping_disabled():
            await check_out(env, task_queue, order)
    plan = next(p for p in fake.confirmed[order.order_id].vendor_orders if p.vendor_id == "ven_a")
    handle = env.client.get_workflow_handle(vendor_order_workflow_id(order.order_id, "ven_a"))
    return plan.vendor_order_id, handle


def attention_of(fake: FakeWorld, vendor_order_id: str) -> list[str | None]:
    return [a for vo, a in fake.attention if vo == vendor_order_id]


def kinds(fake: FakeWorld, vendor_order_id: str) -> list[str]:
    return [n.type for n in fake.notifications if n.vendor_order_id == vendor_order_id]


async def test_a_vendor_order_not_shipped_within_the_sla_is_flagged_reminded_then_cancelled(
    env: WorkflowEnvironment, task_queue: str, fake: FakeWorld
) -> None:
    vendor_order_id, child = await vendor_a(env, task_queue, fake, timed_order())
    assert await child.result() == "cancelled"
    assert attention_of(fake, vendor_order_id) == ["ship_sla_breached", None]
    assert vendor_order_id in fake.released_vendor_orders
    (cancelled,) = fake.cancellations
    assert (cancelled.reason, cancelled.by) == ("ship_sla_expired", "system")
    # Three brakes at 20.00, no postage: all 60.00 back to the buyer, nothing to the vendor.
    assert cancelled.refunded_cents == 6000
    assert fake.money(cancelled.order_id, vendor_order_id).payout_cents == 0
    assert fake.payouts == {}
    await until(lambda: len(kinds(fake, vendor_order_id)) == 3)
    assert kinds(fake, vendor_order_id) == [
        "vendor_order.created",
        "vendor_order.ship_reminder",
        "vendor_order.cancelled",
    ]


async def test_shipping_after_the_sla_breach_clears_the_flag_and_cancels_nothing(
    env: WorkflowEnvironment, task_queue: str, fake: FakeWorld
) -> None:
    vendor_order_id, child = await vendor_a(env, task_queue, fake, timed_order())
    await until(lambda: "ship_sla_breached" in attention_of(fake, vendor_order_id))
    await child.execute_update("ship", ShipRequest(carrier="ups", tracking_number="1Z"))
    await child.execute_update("deliver")
    assert await child.result() == "completed"
    assert attention_of(fake, vendor_order_id) == ["ship_sla_breached", None]
    assert fake.cancellations == []
    assert fake.payouts == {vendor_order_id: 5400}


async def test_a_parcel_not_delivered_in_time_is_flagged_until_it_arrives(
    env: WorkflowEnvironment, task_queue: str, fake: FakeWorld
) -> None:
    vendor_order_id, child = await vendor_a(env, task_queue, fake, timed_order())
    await child.execute_update("ship", ShipRequest(carrier="ups", tracking_number="1Z"))
    await until(lambda: "delivery_overdue" in attention_of(fake, vendor_order_id))
    assert fake.deliveries == []
    await child.execute_update("deliver")
    assert await child.result() == "completed"
    assert attention_of(fake, vendor_order_id) == ["delivery_overdue", None]
    # A vendor's own tracking number is registered with the carrier service.
    assert [t.tracking_number for t in fake.tracked] == ["1Z"]


async def test_a_failed_parcel_is_flagged_for_operators(
    env: WorkflowEnvironment, task_queue: str, fake: FakeWorld
) -> None:
    vendor_order_id, child = await vendor_a(env, task_queue, fake, timed_order())
    await child.execute_update("ship", ShipRequest(carrier="ups", tracking_number="1Z"))
    await child.signal("tracking_problem", TrackingProblem(status="RETURNED"))
    await until(lambda: "parcel_returned" in attention_of(fake, vendor_order_id))
    await child.execute_update("deliver")
    assert await child.result() == "completed"
    assert attention_of(fake, vendor_order_id) == ["parcel_returned", None]


async def test_a_label_bought_by_the_platform_is_taken_from_the_vendors_payout(
    env: WorkflowEnvironment, task_queue: str, fake: FakeWorld
) -> None:
    fake.label_cost_cents = 650
    vendor_order_id, child = await vendor_a(env, task_queue, fake, timed_order())
    parcel = {"length_cm": 30, "width_cm": 20, "height_cm": 10, "weight_grams": 1500}
    await child.execute_update(
        "ship", ShipRequest.model_validate({"purchase_label": True, "parcel": parcel})
    )
    assert fake.shipments[-1].tracking_number == "SHIPPO_TRANSIT_1"
    assert fake.shipments[-1].label_url == "https://labels.example/1.pdf"
    await child.execute_update("deliver")
    assert await child.result() == "completed"
    # 60.00 - 6.00 commission - 6.50 label.
    assert fake.payouts == {vendor_order_id: 4750}
    assert len(fake.labels) == 1 and fake.tracked == []


async def test_a_cancelled_vendor_order_cannot_ship_and_a_shipped_one_cannot_be_cancelled(
    env: WorkflowEnvironment, task_queue: str, fake: FakeWorld
) -> None:
    order = timed_order()
    vendor_order_id, child = await vendor_a(env, task_queue, fake, order)
    other = env.client.get_workflow_handle(vendor_order_workflow_id(order.order_id, "ven_b"))
    await other.execute_update("ship", ShipRequest(carrier="ups", tracking_number="2Z"))
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await other.execute_update("cancel", CancelRequest(reason="changed mind"))
    assert isinstance(refused.value.cause, ApplicationError)
    assert refused.value.cause.type == "invalid_state"
    await child.execute_update("cancel", CancelRequest(reason="changed mind", by="platform"))
    assert await child.result() == "cancelled"
    # Nothing is left to ship: the vendor order's workflow is over (the API says 409).
    with pytest.raises(RPCError) as late:
        await child.execute_update("ship", ShipRequest(carrier="ups", tracking_number="1Z"))
    assert late.value.status == RPCStatusCode.NOT_FOUND
    assert [c.vendor_order_id for c in fake.cancellations] == [vendor_order_id]


async def test_ship_racing_cancel_has_exactly_one_winner_every_time(
    env: WorkflowEnvironment, task_queue: str, fake: FakeWorld
) -> None:
    fake.stock = {"BRAKE-01": 1000, "TYRE-700": 1000}
    winners: list[str] = []
    for _ in range(12):
        _, child = await vendor_a(env, task_queue, fake, timed_order())
        outcomes = await asyncio.gather(
            child.execute_update(
                "ship",
                ShipRequest(carrier="ups", tracking_number="1Z"),
                result_type=VendorOrderState,
            ),
            child.execute_update("cancel", CancelRequest(), result_type=VendorOrderState),
            return_exceptions=True,
        )
        won = [o.status for o in outcomes if isinstance(o, VendorOrderState)]
        lost = [o for o in outcomes if isinstance(o, BaseException)]
        assert len(won) == 1 and len(lost) == 1, outcomes
        assert isinstance(lost[0], WorkflowUpdateFailedError)
        assert isinstance(lost[0].cause, ApplicationError)
        assert lost[0].cause.type == "invalid_state"
        winners.append(won[0])
        state = await child.query("state", result_type=VendorOrderState)
        assert state.status == won[0]
    assert set(winners) <= {"shipped", "cancelled"}


async def deliver_a(child: WorkflowHandle) -> None:
    await child.execute_update("ship", ShipRequest(carrier="ups", tracking_number="1Z"))
    await child.execute_update("deliver")


def one_brake(return_id: str) -> ReturnRequest:
    return ReturnRequest(
        return_id=return_id, lines=[ReturnUnits(sku="BRAKE-01", quantity=1)], reason="too big"
    )


async def test_a_return_received_within_the_window_is_refunded_and_lowers_the_payout(
    env: WorkflowEnvironment, task_queue: str, fake: FakeWorld
) -> None:
    vendor_order_id, child = await vendor_a(env, task_queue, fake, timed_order(), skipping=False)
    with pytest.raises(WorkflowUpdateFailedError) as early:
        await child.execute_update("open_return", one_brake("ret_early"))
    assert isinstance(early.value.cause, ApplicationError)
    assert early.value.cause.type == "invalid_state"
    await deliver_a(child)
    opened = await child.execute_update("open_return", one_brake("ret_1"), result_type=ReturnState)
    assert (opened.status, opened.refund_cents) == ("requested", 2000)
    received = await child.execute_update(
        "receive_return", ReceiveRequest(return_id="ret_1"), result_type=ReturnState
    )
    assert received.status == "refunded"
    await env.fast_forward(child, None)
    assert await child.result() == "completed"
    # 40.00 of goods kept: 4.00 commission, 36.00 to the vendor; the brake went back on the shelf.
    assert fake.payouts == {vendor_order_id: 3600}
    assert [r.return_id for r in fake.restocked] == ["ret_1"]
    assert [(c.return_id, c.status) for c in fake.closed_returns] == [("ret_1", "refunded")]
    assert "return.requested" in kinds(fake, vendor_order_id)


async def test_no_return_opens_after_the_window_and_no_more_units_than_were_sold(
    env: WorkflowEnvironment, task_queue: str, fake: FakeWorld
) -> None:
    _, child = await vendor_a(
        env,
        task_queue,
        fake,
        timed_order().model_copy(update={"return_window_seconds": HOUR}),
        skipping=False,
    )
    await deliver_a(child)
    too_many = ReturnRequest(
        return_id="ret_x", lines=[ReturnUnits(sku="BRAKE-01", quantity=4)], reason="x"
    )
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await child.execute_update("open_return", too_many)
    assert isinstance(refused.value.cause, ApplicationError)
    assert refused.value.cause.type == "validation_error"
    # The window ends (nothing held it open) and the vendor is paid: the workflow is over,
    # so a late return finds nothing to change.
    await env.fast_forward(child, None)
    assert await child.result() == "completed"
    with pytest.raises(RPCError) as late:
        await child.execute_update("open_return", one_brake("ret_late"))
    assert late.value.status == RPCStatusCode.NOT_FOUND
    assert fake.returns == {}


async def test_a_return_open_when_the_window_ends_holds_the_payout_until_received(
    env: WorkflowEnvironment, task_queue: str, fake: FakeWorld
) -> None:
    vendor_order_id, child = await vendor_a(env, task_queue, fake, timed_order(), skipping=False)
    await deliver_a(child)
    await child.execute_update("open_return", one_brake("ret_1"))
    # The 14-day window ends; the payout waits for the parcel (its expiry is 14 days later).
    assert await env.fast_forward(child, timedelta(days=15))
    assert fake.payout_attempts == 0
    await child.execute_update("receive_return", ReceiveRequest(return_id="ret_1", restock=False))
    assert await child.result() == "completed"
    assert fake.payouts == {vendor_order_id: 3600}
    assert fake.restocked == []


async def test_a_return_never_received_expires_and_the_vendor_is_paid_in_full(
    env: WorkflowEnvironment, task_queue: str, fake: FakeWorld
) -> None:
    vendor_order_id, child = await vendor_a(env, task_queue, fake, timed_order(), skipping=False)
    await deliver_a(child)
    await child.execute_update("open_return", one_brake("ret_1"))
    await env.fast_forward(child, None)
    assert await child.result() == "completed"
    assert [(c.return_id, c.status) for c in fake.closed_returns] == [("ret_1", "expired")]
    assert fake.payouts == {vendor_order_id: 5400}


async def test_a_return_received_while_it_expires_is_refused_and_neither_refunds_nor_restocks(
    env: WorkflowEnvironment, task_queue: str, fake: FakeWorld
) -> None:
    # Given a return never received, whose expiry is being recorded (simulation seed 501: the
    # vendor received it at that moment, the buyer was refunded and the unit restocked, and
    # the return stayed "expired")
    fake.expiry_gate = asyncio.Event()
    vendor_order_id, child = await vendor_a(env, task_queue, fake, timed_order(), skipping=False)
    await deliver_a(child)
    await child.execute_update("open_return", one_brake("ret_1"))
    finishing = asyncio.create_task(env.fast_forward(child, None))
    await asyncio.wait_for(fake.expiring.wait(), timeout=60)
    # When the vendor receives it then
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await child.execute_update("receive_return", ReceiveRequest(return_id="ret_1"))
    fake.expiry_gate.set()
    await finishing
    # Then it is refused as expired, and the return, the money and the stock agree
    assert isinstance(refused.value.cause, ApplicationError)
    assert refused.value.cause.type == "invalid_state"
    assert await child.result() == "completed"
    assert [(c.return_id, c.status) for c in fake.closed_returns] == [("ret_1", "expired")]
    assert fake.restocked == []
    assert fake.payouts == {vendor_order_id: 5400}
