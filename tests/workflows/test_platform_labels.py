"""A label the platform buys for a vendor is taken from that vendor's payout."""

from __future__ import annotations

import pytest
from temporalio.testing import WorkflowEnvironment

from models.messages.shipping import ShipRequest
from tests.workflows.fakes import FakeWorld
from tests.workflows.timed_orders import timed_order, vendor_a

# Vendor A ships within a day (tests/workflows/conftest.py).
pytestmark = pytest.mark.usefixtures("vendor_a_ships_within_a_day")


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
