"""A vendor order not shipped within its ship SLA is flagged, its vendor reminded, and then
it is cancelled and refunded in full; shipping after the breach clears the flag and cancels
nothing. In skipped time."""

from __future__ import annotations

import pytest
from temporalio.testing import WorkflowEnvironment

from models.messages.shipping import ShipRequest
from tests.workflows.fakes import FakeWorld
from tests.workflows.test_vendor_money import until
from tests.workflows.timed_orders import attention_of, kinds, timed_order, vendor_a

# Vendor A ships within a day (tests/workflows/conftest.py).
pytestmark = pytest.mark.usefixtures("vendor_a_ships_within_a_day")


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
