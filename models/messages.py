"""Messages workflows and activities exchange: one model per input, so fields can be added
compatibly (DESIGN.md). Pydantic models, carried by the pydantic data converter."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

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
    return_window_seconds: float
    payout_retry_seconds: float = 60.0
    hold_seconds: float = 3600.0
    # Service-level timers (None: none); the vendor's ship_sla comes with the catalog.
    auto_cancel_seconds: float | None = None
    delivery_overdue_seconds: float | None = None
    return_expires_seconds: float | None = None
    # A vendor order's workflow continues as new past this many history events, so a wait
    # of months (a payout refused for a restricted account) never outgrows its history.
    history_limit: int = 2000


class CheckoutRequest(BaseModel):
    request_fingerprint: str


class CheckoutResult(BaseModel):
    order_id: str
    status: str
    # The order as the API shows it, read when it was confirmed (issue 10); None from runs
    # before it, whose answer the API reads from the database.
    order: OrderPublic | None = None


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


class RenewRequest(BaseModel):
    order_id: str
    vendor_order_id: str
    hold_seconds: float


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


class ChargeRequest(BaseModel):
    order_id: str
    amount_cents: int
    currency: str
    payment_method: str
    transfer_group: str
    customer_id: str


class ChargeOutcome(BaseModel):
    payment_intent_id: str
    charge_id: str
    amount_cents: int


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


class ConfirmOrderRequest(BaseModel):
    order_id: str
    charge: ChargeOutcome
    vendor_orders: list[VendorOrderPlan]


class OrderStatusChange(BaseModel):
    order_id: str
    status: str
    event_type: str


class VendorOrderInput(BaseModel):
    order_id: str
    vendor_order_id: str
    vendor_id: str
    parent_workflow_id: str
    currency: str
    return_window_seconds: float
    created_at: datetime
    payout_retry_seconds: float = 60.0
    hold_seconds: float = 3600.0
    ship_sla_seconds: float | None = None
    auto_cancel_seconds: float | None = None
    delivery_overdue_seconds: float | None = None
    return_expires_seconds: float | None = None
    # What was sold (units per SKU and their unit prices): returns are priced from it.
    lines: list[SoldLine] = Field(default_factory=list)
    history_limit: int = 2000
    # Set when an earlier run continued as new: where it was, and what it knew.
    resume: VendorOrderResume | None = None
    # Issue 10: the parent set this workflow's search attributes when it started it.
    attributes_at_start: bool = False
    # Issue 10: False when the vendor had no webhook URL at checkout (no notification
    # workflows are started); True for inputs from before the field.
    notify_vendor: bool = True


class VendorOrderResume(BaseModel):
    """A vendor order's workflow state carried across continue-as-new. Only long waits
    continue as new: waiting for the vendor to ship, and waiting to pay the vendor."""

    phase: str  # "awaiting_shipment" | "payout"
    status: str
    attention: str | None = None
    breached: bool = False
    next_renewal: datetime | None = None
    open_disputes: list[str] = Field(default_factory=list)
    closed_disputes: list[str] = Field(default_factory=list)
    payout_attempt: int = 0
    payout_wait_seconds: float | None = None
    payout_failures: int = 0
    payout_flagged: bool = False
    reversal_steps: int = 0


class SoldLine(BaseModel):
    sku: str
    quantity: int
    unit_price_cents: int


class VendorOrderStatusSignal(BaseModel):
    vendor_order_id: str
    vendor_id: str
    status: str


class ParcelMsg(BaseModel):
    length_cm: float
    width_cm: float
    height_cm: float
    weight_grams: int


class ShipRequest(BaseModel):
    carrier: str = ""
    tracking_number: str = ""
    # Or the platform buys the label (Shippo): cheapest rate meeting the vendor's service level.
    purchase_label: bool = False
    parcel: ParcelMsg | None = None


class LabelRequest(BaseModel):
    order_id: str
    vendor_order_id: str
    parcel: ParcelMsg


class LabelResult(BaseModel):
    transaction_id: str
    carrier: str
    tracking_number: str
    label_url: str
    cost_cents: int


class TrackRequest(BaseModel):
    vendor_order_id: str
    carrier: str
    tracking_number: str


class ShipmentRecord(BaseModel):
    vendor_order_id: str
    order_id: str
    carrier: str
    tracking_number: str
    shipped_at: datetime
    label_url: str | None = None


class CancelRequest(BaseModel):
    reason: str = "requested_by_customer"
    # platform, ops, or system (the ship SLA's auto-cancel)
    by: str = "ops"


class CancellationRecord(BaseModel):
    vendor_order_id: str
    order_id: str
    reason: str
    by: str
    cancelled_at: datetime
    refunded_cents: int


class TrackingProblem(BaseModel):
    """The carrier says the parcel failed or is coming back (Shippo FAILURE / RETURNED)."""

    status: str
    detail: str = ""

    @property
    def parcel_returned(self) -> bool:
        """Coming back to the vendor, rather than failed on the way (Shippo's own word)."""
        return self.status == "RETURNED"


class ReturnUnits(BaseModel):
    sku: str
    quantity: int


class ReturnRequest(BaseModel):
    return_id: str
    lines: list[ReturnUnits]
    reason: str


class ReturnLineRecord(BaseModel):
    sku: str
    quantity: int
    unit_price_cents: int


class ReturnRecord(BaseModel):
    return_id: str
    order_id: str
    vendor_order_id: str
    lines: list[ReturnLineRecord]
    reason: str
    refund_cents: int
    requested_at: datetime


class ReceiveRequest(BaseModel):
    return_id: str
    restock: bool = True


class RestockRequest(BaseModel):
    return_id: str
    order_id: str
    vendor_order_id: str
    lines: list[ReturnUnits]


class ReturnClosing(BaseModel):
    return_id: str
    order_id: str
    vendor_order_id: str
    status: str  # refunded | expired
    at: datetime
    provider_refund_id: str | None = None
    restocked: bool = False


class ReturnState(BaseModel):
    return_id: str
    vendor_order_id: str
    status: str  # requested | refunded | expired
    refund_cents: int


class DeliveryRecord(BaseModel):
    vendor_order_id: str
    order_id: str
    delivered_at: datetime
    return_window_ends_at: datetime


class VendorOrderRef(BaseModel):
    vendor_order_id: str
    order_id: str


class PayoutRequest(BaseModel):
    vendor_order_id: str
    order_id: str
    # Counts final refusals (no or restricted account). A provider replays a refused request's
    # answer for the same idempotency key, so a fresh attempt after a refusal needs a new key;
    # a refusal moved no money, so nothing can be paid twice.
    attempt: int = 0


class PayoutOutcome(BaseModel):
    transfer_id: str
    amount_cents: int
    # A refund recorded after the payout's amount was worked out and before its transfer: the
    # vendor was paid that much too much, to take back with a reversal (0 for old histories).
    to_reverse_cents: int = 0


class VendorOrderState(BaseModel):
    vendor_order_id: str
    status: str


class RefundCommand(BaseModel):
    """A refund the system makes (cancellations, returns, ops): `refund_key` names it, so a
    retried one refunds once."""

    order_id: str
    vendor_order_id: str
    refund_key: str
    amount_cents: int
    reason: str = "requested_by_customer"
    # Refund whatever is still refundable instead of amount_cents (a cancellation).
    remaining: bool = False
    # Refund amount_cents, or what is still refundable when that is less: a return received
    # after an operator already refunded part of the order (the goods are back either way).
    at_most: bool = False


class ExternalRefund(BaseModel):
    """A refund made outside the system (Stripe dashboard, API), announced by a webhook."""

    order_id: str
    vendor_order_id: str
    provider_refund_id: str
    amount_cents: int


class RefundOutcome(BaseModel):
    provider_refund_id: str | None
    amount_cents: int
    refunded_cents: int
    to_reverse_cents: int


class ReversalCommand(BaseModel):
    order_id: str
    vendor_order_id: str
    step: str


class ReversalOutcome(BaseModel):
    reversed_cents: int
    debt_cents: int


class AttentionChange(BaseModel):
    vendor_order_id: str
    attention: str | None


class DisputeSignal(BaseModel):
    dispute_id: str
    status: str  # needs_response | warning_needs_response | under_review | won | lost

    @property
    def closed(self) -> bool:
        """The dispute is over, whatever its outcome (Stripe's own statuses)."""
        return self.status in _CLOSED_DISPUTE_STATUSES


_CLOSED_DISPUTE_STATUSES = frozenset({"won", "lost", "warning_closed", "charge_refunded"})


class ExternalReversal(BaseModel):
    """Part of a vendor's transfer taken back outside the system (Stripe dashboard or API)."""

    order_id: str
    vendor_order_id: str
    provider_reversal_id: str
    amount_cents: int


class PayoutAdjustment(BaseModel):
    """Money back to the buyer after the vendor order's workflow closed: either a refund made
    outside (a webhook told us) or one to make now (operators)."""

    order_id: str
    vendor_order_id: str
    external: ExternalRefund | None = None
    refund: RefundCommand | None = None
    external_reversal: ExternalReversal | None = None


class VendorNotification(BaseModel):
    """One message for a vendor's webhook. `event_id` is stable across retries, so the vendor
    can drop a delivery it already had."""

    event_id: str
    vendor_id: str
    type: str  # vendor_order.created | vendor_order.ship_reminder | vendor_order.cancelled | ...
    created_at: datetime
    vendor_order_id: str | None = None
    data: dict[str, Any] = Field(default_factory=dict)


class NotificationOutcome(BaseModel):
    delivered: bool
    status_code: int | None = None
    # Why nothing was sent (the vendor has no webhook URL), when nothing was.
    skipped: str | None = None
