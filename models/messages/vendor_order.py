"""A vendor's sub-order (VendorOrderWorkflow): its input and the state carried across
continue-as-new, the sold lines returns are priced from, the stock hold it renews, its status,
attention and cancellation."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field, model_validator

from models.messages.timing import TimingPolicy, gather_timing


class RenewRequest(BaseModel):
    order_id: str
    vendor_order_id: str
    hold_seconds: float


class AckPolicy(BaseModel):
    """A vendor that acknowledges its orders (issue 13): each is accepted or rejected within
    `sla_seconds`, else flagged ack_overdue; a rejection cancels this part and refunds it,
    or ("reroute") first tries another of the vendor's warehouses."""

    sla_seconds: float
    on_reject: str = "cancel"


class AcceptRequest(BaseModel):
    supplier_order_ref: str


class RejectRequest(BaseModel):
    reason: str
    note: str = ""


class AcceptanceRecord(BaseModel):
    order_id: str
    vendor_order_id: str
    supplier_order_ref: str
    accepted_at: datetime


class RejectionRecord(BaseModel):
    order_id: str
    vendor_order_id: str
    reason: str
    note: str = ""
    # The how-many-th rejection of this vendor order: a retried activity recognises its own.
    number: int
    # Try another of the vendor's warehouses (its rule is "reroute").
    reroute: bool
    rejected_at: datetime
    # When the moved order must be answered by, if it moves.
    next_due_at: datetime | None = None


class RejectionOutcome(BaseModel):
    # The warehouse the order moved to; None: it stays, to be cancelled.
    moved_to: str | None = None


class VendorOrderInput(BaseModel):
    order_id: str
    vendor_order_id: str
    vendor_id: str
    parent_workflow_id: str
    currency: str
    created_at: datetime
    # The order's, as it is (models/messages/timing.py); the ship SLA is this vendor's.
    timing: TimingPolicy
    ship_sla_seconds: float | None = None
    # What was sold (units per SKU and their unit prices): returns are priced from it.
    lines: list[SoldLine] = Field(default_factory=list)
    # Set when an earlier run continued as new: where it was, and what it knew.
    resume: VendorOrderResume | None = None
    # Issue 10: the parent set this workflow's search attributes when it started it.
    attributes_at_start: bool = False
    # Issue 10: False when the vendor had no webhook URL at checkout (no notification
    # workflows are started); True for inputs from before the field.
    notify_vendor: bool = True
    # How operators read the vendor in the Temporal UI; "" from parents before it (the id
    # is shown instead).
    vendor_name: str = ""
    # Set when the vendor acknowledges its orders (issue 13); None in older inputs.
    ack: AckPolicy | None = None

    _gather_timing = model_validator(mode="before")(gather_timing)


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
    # Acknowledgement (issue 13): when the answer is due (None: answered or not needed),
    # whether it was flagged overdue, the supplier's reference, rejections so far.
    ack_due_at: datetime | None = None
    ack_flagged: bool = False
    supplier_order_ref: str | None = None
    rejections: int = 0


class SoldLine(BaseModel):
    sku: str
    quantity: int
    unit_price_cents: int


class VendorOrderStatusSignal(BaseModel):
    vendor_order_id: str
    vendor_id: str
    status: str


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


class VendorOrderRef(BaseModel):
    vendor_order_id: str
    order_id: str


class VendorOrderState(BaseModel):
    vendor_order_id: str
    status: str


class AttentionChange(BaseModel):
    vendor_order_id: str
    attention: str | None
