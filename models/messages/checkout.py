"""What checkout's saga exchanges with its activities (OrderWorkflow): the order as placed, the
catalog it is priced from, the stock reserved for it, the order recorded and confirmed, and
the answer the caller gets."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field, model_validator

from models.messages.money import ChargeOutcome
from models.messages.timing import TimingPolicy, gather_timing
from models.messages.vendor_order import AckPolicy
from models.views import OrderPublic


class LineRequest(BaseModel):
    sku: str
    quantity: int


class OrderInput(BaseModel):
    order_id: str
    customer_id: str
    currency: str
    lines: list[LineRequest]
    shipping_address: dict[str, Any]
    payment_method: str
    idempotency_key: str
    request_fingerprint: str
    timing: TimingPolicy

    _gather_timing = model_validator(mode="before")(gather_timing)


class CheckoutRequest(BaseModel):
    request_fingerprint: str


# The confirmed order as the API shows it (models/views.py), read by the confirmation step
# and handed back by the checkout update: the 201 needs no second read (issue 10). The saga
# carries it as a message and never looks inside.
ConfirmedOrder = OrderPublic


class CheckoutResult(BaseModel):
    order_id: str
    status: str
    # None from runs before issue 10, whose answer the API reads from the database.
    order: ConfirmedOrder | None = None


class CatalogEntry(BaseModel):
    sku: str
    vendor_id: str
    price_cents: int
    currency: str
    tiers: list[tuple[int, int]] = Field(default_factory=list)  # (min_quantity, price_cents)
    commission_bps: int
    ship_sla_seconds: float | None = None
    # The vendor had a webhook URL: its vendor orders send notifications (issue 10: none,
    # and no workflow for them, otherwise). True in snapshots from before the field.
    notifies: bool = True
    # Operators read it in the Temporal UI (domain/progress.py); "" in older snapshots.
    vendor_name: str = ""
    # The vendor acknowledges its orders (issue 13); None: they need no answer.
    ack: AckPolicy | None = None
    # The vendor's status (domain/vendor_status.py): the saga sells only an active vendor's
    # products. "active" in snapshots from before the field.
    vendor_status: str = "active"


class CatalogRequest(BaseModel):
    skus: list[str]


class CatalogSnapshot(BaseModel):
    entries: list[CatalogEntry]


class PricedLineMsg(BaseModel):
    line_no: int
    sku: str
    vendor_id: str
    quantity: int
    unit_price_cents: int
    line_total_cents: int


class CreateOrderRequest(BaseModel):
    order: OrderInput
    status: str
    lines: list[PricedLineMsg]
    subtotal_cents: int
    shipping_cents: int
    total_cents: int
    rejection: dict[str, Any] | None = None


class RejectOrderRequest(BaseModel):
    order_id: str
    rejection: dict[str, Any]


class ReserveRequest(BaseModel):
    order_id: str
    lines: list[PricedLineMsg]
    # How long the stock stays held unless the order's workflow renews it.
    hold_seconds: float = 3600.0
    # Where the parcels go: warehouses are chosen by distance to it (domain.routing).
    latitude: float | None = None
    longitude: float | None = None


class Allocation(BaseModel):
    line_no: int
    sku: str
    warehouse_id: str
    quantity: int


class ReserveResult(BaseModel):
    allocations: list[Allocation]
    # Estimated postage per vendor for the parcels the routing chose (domain.routing).
    shipping_cents: dict[str, int] = Field(default_factory=dict)


class OrderTotals(BaseModel):
    order_id: str
    subtotal_cents: int
    shipping_cents: int
    total_cents: int


class OrderRef(BaseModel):
    order_id: str


class VendorOrderPlan(BaseModel):
    vendor_order_id: str
    vendor_id: str
    workflow_id: str
    subtotal_cents: int
    shipping_cents: int
    commission_bps: int
    commission_cents: int
    payout_cents: int
    lines: list[Allocation]
    unit_prices: dict[str, int]
    ship_sla_seconds: float | None = None
    # The vendor acknowledges its orders (issue 13).
    ack: AckPolicy | None = None


class ConfirmOrderRequest(BaseModel):
    order_id: str
    charge: ChargeOutcome
    vendor_orders: list[VendorOrderPlan]


class OrderStatusChange(BaseModel):
    order_id: str
    status: str
    event_type: str
