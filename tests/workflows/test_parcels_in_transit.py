"""A parcel not delivered in time, or one the carrier reports failed, is flagged for operators
until it arrives. In skipped time."""

from __future__ import annotations

import pytest
from temporalio.testing import WorkflowEnvironment

from models.messages.shipping import ShipRequest, TrackingProblem
from tests.workflows.fakes import FakeWorld
from tests.workflows.test_vendor_money import until
from tests.workflows.timed_orders import attention_of, timed_order, vendor_a

# Vendor A ships within a day (tests/workflows/conftest.py).
pytestmark = pytest.mark.usefixtures("vendor_a_ships_within_a_day")


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
