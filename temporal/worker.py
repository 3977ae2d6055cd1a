"""Worker construction: the workflows, and the activity classes' bound methods."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from temporalio.client import Client
from temporalio.worker import Worker

from activities.inventory import InventoryActivities
from activities.orders import OrderStoreActivities
from activities.payments import PaymentActivities
from activities.refunds import RefundActivities
from workflows.order import OrderWorkflow
from workflows.payout_adjustment import PayoutAdjustmentWorkflow
from workflows.vendor_order import VendorOrderWorkflow

WORKFLOWS = [OrderWorkflow, VendorOrderWorkflow, PayoutAdjustmentWorkflow]


def activity_methods(
    inventory: InventoryActivities,
    orders: OrderStoreActivities,
    payments: PaymentActivities,
    refunds: RefundActivities,
) -> list[Callable[..., Any]]:
    return [
        inventory.load_catalog,
        inventory.reserve,
        inventory.release,
        inventory.commit_vendor_order,
        inventory.renew,
        orders.create,
        orders.set_rejection,
        orders.confirm,
        orders.set_status,
        orders.record_shipment,
        orders.record_delivery,
        orders.record_completion,
        orders.set_attention,
        payments.charge,
        payments.pay_vendor,
        refunds.refund,
        refunds.record_external_refund,
        refunds.reverse_payout,
        refunds.record_external_reversal,
    ]


def make_worker(
    client: Client, task_queue: str, activities: Sequence[Callable[..., Any]]
) -> Worker:
    return Worker(
        client,
        task_queue=task_queue,
        workflows=WORKFLOWS,
        activities=activities,
        max_concurrent_activities=100,
    )
