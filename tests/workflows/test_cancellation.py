"""A vendor order is either shipped or cancelled, never both: a cancelled one cannot ship, a
shipped one cannot be cancelled, and a ship racing a cancel has exactly one winner."""

from __future__ import annotations

import asyncio

import pytest
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment

from domain.ids import vendor_order_workflow_id
from models.messages.shipping import ShipRequest
from models.messages.vendor_order import CancelRequest, VendorOrderState
from tests.workflows.fakes import FakeWorld
from tests.workflows.timed_orders import timed_order, vendor_a

# Vendor A ships within a day (tests/workflows/conftest.py).
pytestmark = pytest.mark.usefixtures("vendor_a_ships_within_a_day")


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
