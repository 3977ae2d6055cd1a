"""Orders whose service-level timers are set, and vendor A's part of them: shared by the tests
of the ship SLA, parcels in transit, platform labels, cancellation and returns, which ask for
the `vendor_a_ships_within_a_day` fixture (tests/workflows/conftest.py), and by the hardening
tests."""

from __future__ import annotations

from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from domain.ids import vendor_order_workflow_id
from models.messages.checkout import OrderInput
from models.messages.returns import ReturnRequest, ReturnUnits
from models.messages.shipping import ShipRequest
from tests.workflows.fakes import FakeWorld
from tests.workflows.test_order_saga import check_out, order_input, with_timing

HOUR = 3600.0
DAY = 24 * HOUR


def timed_order(**timers: float | None) -> OrderInput:
    base = {
        "auto_cancel_seconds": 2 * DAY,
        "delivery_overdue_seconds": 10 * DAY,
        "return_expires_seconds": 14 * DAY,
        # Renewals every half hold would be hundreds of activities over days of skipped time.
        "hold_seconds": 60 * DAY,
    }
    return with_timing(order_input(), **{**base, **timers})


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


async def deliver_a(child: WorkflowHandle) -> None:
    await child.execute_update("ship", ShipRequest(carrier="ups", tracking_number="1Z"))
    await child.execute_update("deliver")


def one_brake(return_id: str) -> ReturnRequest:
    return ReturnRequest(
        return_id=return_id, lines=[ReturnUnits(sku="BRAKE-01", quantity=1)], reason="too big"
    )
