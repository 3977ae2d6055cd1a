"""Worker construction: the workflows, and the activity classes' bound methods."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from temporalio.client import Client
from temporalio.worker import Worker

from activities.inventory import InventoryActivities
from activities.notifications import NotificationActivities
from activities.orders import OrderStoreActivities
from activities.payments import PaymentActivities
from activities.refunds import RefundActivities
from activities.returns import ReturnActivities
from activities.shipping import ShippingActivities
from workflows.notification import VendorNotificationWorkflow
from workflows.order import OrderWorkflow
from workflows.payout_adjustment import PayoutAdjustmentWorkflow
from workflows.vendor_order import VendorOrderWorkflow

WORKFLOWS = [
    OrderWorkflow,
    VendorOrderWorkflow,
    PayoutAdjustmentWorkflow,
    VendorNotificationWorkflow,
]


def activity_methods(
    inventory: InventoryActivities,
    orders: OrderStoreActivities,
    payments: PaymentActivities,
    refunds: RefundActivities,
    notifications: NotificationActivities,
    returns: ReturnActivities,
    shipping: ShippingActivities,
) -> list[Callable[..., Any]]:
    return [
        inventory.load_catalog,
        inventory.reserve,
        inventory.release,
        inventory.commit_vendor_order,
        inventory.renew,
        inventory.release_vendor_order,
        inventory.restock_return,
        orders.create,
        orders.set_rejection,
        orders.confirm,
        orders.set_status,
        orders.record_shipment,
        orders.record_delivery,
        orders.record_completion,
        orders.set_attention,
        orders.set_totals,
        orders.record_cancellation,
        payments.charge,
        payments.pay_vendor,
        refunds.refund,
        refunds.record_external_refund,
        refunds.reverse_payout,
        refunds.record_external_reversal,
        notifications.deliver,
        returns.record,
        returns.close,
        shipping.buy_label,
        shipping.track,
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
