"""Every table, imported in one place so Alembic and the tests see the whole metadata."""

from models.catalog import PriceTier, Product
from models.external_refund import ExternalRefundRecord
from models.idempotency import IdempotencyRecord  # noqa: F401  (issue 9, item 14)
from models.ledger import LedgerEntry, WebhookEvent
from models.order import Order, OrderEvent, OrderLine
from models.payment import Payment
from models.platform_webhooks import (
    PlatformDelivery,
    PlatformEndpoint,
    PlatformEventFanned,
    PlatformOutbox,
)
from models.refund_in_flight import RefundInFlight
from models.returns import OrderReturn, OrderReturnLine
from models.stock import Reservation, StockLevel, StockMovement
from models.stock_feed import StockFeed, StockFeedMark, StockFeedRow
from models.vendor import ApiKey, Vendor, Warehouse
from models.vendor_order import VendorOrder, VendorOrderLine

__all__ = [
    "ApiKey",
    "ExternalRefundRecord",
    "LedgerEntry",
    "Order",
    "OrderEvent",
    "OrderLine",
    "OrderReturn",
    "OrderReturnLine",
    "Payment",
    "PlatformDelivery",
    "PlatformEndpoint",
    "PlatformEventFanned",
    "PlatformOutbox",
    "PriceTier",
    "Product",
    "RefundInFlight",
    "Reservation",
    "StockFeed",
    "StockFeedMark",
    "StockFeedRow",
    "StockLevel",
    "StockMovement",
    "Vendor",
    "VendorOrder",
    "VendorOrderLine",
    "Warehouse",
    "WebhookEvent",
]
