"""The names Temporal knows our work by: the one contract between the workflows, the API that
starts and updates them, the worker that registers them and the tests' fakes.

Each name is written into the history of every workflow that used it, and a workflow in
flight replays against the names its history holds: renaming one strands those workflows.
Add names; never change one.
"""

from __future__ import annotations

from typing import Final


class Workflow:
    ORDER: Final = "OrderWorkflow"
    VENDOR_ORDER: Final = "VendorOrderWorkflow"
    PAYOUT_ADJUSTMENT: Final = "PayoutAdjustmentWorkflow"
    VENDOR_NOTIFICATION: Final = "VendorNotificationWorkflow"
    STOCK_FEED: Final = "StockFeedWorkflow"


class Update:
    # OrderWorkflow: the storefront's checkout, answered once the order is confirmed or refused.
    CHECKOUT: Final = "checkout"
    # VendorOrderWorkflow: the vendor app, the platform, ops and the Shippo webhook.
    SHIP: Final = "ship"
    DELIVER: Final = "deliver"
    CANCEL: Final = "cancel"
    OPEN_RETURN: Final = "open_return"
    RECEIVE_RETURN: Final = "receive_return"
    REFUND: Final = "refund"
    # The supplier's answer, when its vendor acknowledges orders (issue 13).
    ACCEPT: Final = "accept"
    REJECT: Final = "reject"


class Signal:
    # VendorOrderWorkflow -> its OrderWorkflow.
    VENDOR_ORDER_CHANGED: Final = "vendor_order_changed"
    # To VendorOrderWorkflow: the Shippo and Stripe webhooks, ops.
    TRACKING_PROBLEM: Final = "tracking_problem"
    EXTERNAL_REFUND: Final = "external_refund"
    DISPUTE: Final = "dispute"
    RETRY_PAYOUT: Final = "retry_payout"


class Query:
    ORDER_STATUS: Final = "status"
    VENDOR_ORDER_STATE: Final = "state"


class Activity:
    LOAD_CATALOG: Final = "inventory.load_catalog"
    RESERVE: Final = "inventory.reserve"
    RELEASE: Final = "inventory.release"
    RENEW_HOLD: Final = "inventory.renew"
    COMMIT_VENDOR_ORDER: Final = "inventory.commit_vendor_order"
    RELEASE_VENDOR_ORDER: Final = "inventory.release_vendor_order"
    RESTOCK_RETURN: Final = "inventory.restock_return"

    CREATE_ORDER: Final = "orders.create"
    SET_TOTALS: Final = "orders.set_totals"
    SET_REJECTION: Final = "orders.set_rejection"
    CONFIRM_ORDER: Final = "orders.confirm"
    SET_ORDER_STATUS: Final = "orders.set_status"
    RECORD_SHIPMENT: Final = "orders.record_shipment"
    RECORD_DELIVERY: Final = "orders.record_delivery"
    RECORD_CANCELLATION: Final = "orders.record_cancellation"
    RECORD_COMPLETION: Final = "orders.record_completion"
    SET_ATTENTION: Final = "orders.set_attention"

    CHARGE: Final = "payments.charge"
    PAY_VENDOR: Final = "payments.pay_vendor"
    REFUND: Final = "payments.refund"
    RECORD_EXTERNAL_REFUND: Final = "payments.record_external_refund"
    REVERSE_PAYOUT: Final = "payments.reverse_payout"
    RECORD_EXTERNAL_REVERSAL: Final = "payments.record_external_reversal"

    DELIVER_NOTIFICATION: Final = "notifications.deliver"
    RECORD_RETURN: Final = "returns.record"
    CLOSE_RETURN: Final = "returns.close"
    BUY_LABEL: Final = "shipping.buy_label"
    TRACK_PARCEL: Final = "shipping.track"
    RECORD_ACCEPTANCE: Final = "supplier.record_acceptance"
    ANSWER_REJECTION: Final = "supplier.answer_rejection"

    START_STOCK_FEED: Final = "stock_feeds.start"
    APPLY_STOCK_FEED_BATCH: Final = "stock_feeds.apply_batch"
    FINISH_STOCK_FEED: Final = "stock_feeds.finish"
