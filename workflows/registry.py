"""Every workflow a worker runs: the entrypoint (worker.py) hands them to the worker's
construction (temporal/worker.py), and the tests' workers and replayers take them here."""

from __future__ import annotations

from workflows.notification import VendorNotificationWorkflow
from workflows.order import OrderWorkflow
from workflows.payout_adjustment import PayoutAdjustmentWorkflow
from workflows.stock_feed import StockFeedWorkflow
from workflows.vendor_order import VendorOrderWorkflow

WORKFLOWS = [
    OrderWorkflow,
    VendorOrderWorkflow,
    PayoutAdjustmentWorkflow,
    VendorNotificationWorkflow,
    StockFeedWorkflow,
]
