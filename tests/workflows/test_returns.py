"""Returns as durable timers, in skipped time: a return opens only within the window and for
units sold, is refunded when received, holds the payout while open, expires if never
received, and is never both received and expired."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment

from models.messages.returns import ReceiveRequest, ReturnRequest, ReturnState, ReturnUnits
from tests.workflows.fakes import FakeWorld
from tests.workflows.timed_orders import HOUR, deliver_a, kinds, one_brake, timed_order, vendor_a

# Vendor A ships within a day (tests/workflows/conftest.py).
pytestmark = pytest.mark.usefixtures("vendor_a_ships_within_a_day")


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
        timed_order(return_window_seconds=HOUR),
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
