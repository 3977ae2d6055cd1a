"""Public shapes of orders and vendor orders (API.md), shared by every reader."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator

from models.request import RequestModel
from models.returns import ReturnPublic
from models.text import StorableText


class OrderLinePublic(BaseModel):
    sku: str
    vendor_id: str
    quantity: int
    unit_price_cents: int
    line_total_cents: int


class VendorOrderLinePublic(BaseModel):
    sku: str
    warehouse_id: str | None
    quantity: int
    unit_price_cents: int


class VendorOrderPublic(BaseModel):
    id: str
    order_id: str
    vendor_id: str
    status: str
    currency: str
    lines: list[VendorOrderLinePublic]
    subtotal_cents: int
    shipping_cents: int
    commission_cents: int
    refunded_cents: int
    # The part of the label's price taken from the payout (API.md money rule); a label dearer
    # than what is left after refunds is recovered only up to that, the rest is the
    # platform's cost. `label_bought_cents` is what the platform paid Shippo for it.
    label_cost_cents: int
    label_bought_cents: int = 0
    payout_cents: int
    payout_status: str
    carrier: str | None
    tracking_number: str | None
    label_url: str | None
    shipped_at: datetime | None
    delivered_at: datetime | None
    return_window_ends_at: datetime | None
    attention: str | None
    workflow_id: str
    # A vendor that acknowledges its orders: the answer is due by `ack_due_at` (null once
    # answered, or when none is needed); `supplier_order_ref` is its own reference.
    ack_due_at: datetime | None = None
    accepted_at: datetime | None = None
    supplier_order_ref: str | None = None


class OrderEventPublic(BaseModel):
    type: str
    at: datetime
    vendor_order_id: str | None = None
    detail: dict[str, Any] | None = None


class OrderPublic(BaseModel):
    id: str
    status: str
    customer_id: str
    currency: str
    subtotal_cents: int
    shipping_cents: int
    total_cents: int
    refunded_cents: int
    created_at: datetime
    workflow_id: str
    lines: list[OrderLinePublic]
    vendor_orders: list[VendorOrderPublic]
    events: list[OrderEventPublic]
    # Returns of this order, oldest first (an extension of API.md's Order).
    returns: list[ReturnPublic] = Field(default_factory=list)


class ShippingAddress(RequestModel):
    name: StorableText = Field(min_length=1, max_length=200)
    line1: StorableText = Field(min_length=1, max_length=300)
    line2: StorableText | None = Field(default=None, max_length=300)
    city: StorableText = Field(min_length=1, max_length=100)
    # State or province: carriers want it on labels to the US, Canada and Australia
    # (docs/warehouse-addresses.md). Added after launch: see OrderCreate.fingerprint_payload.
    state: StorableText | None = Field(default=None, min_length=1, max_length=100)
    postal_code: StorableText = Field(min_length=1, max_length=20)
    country: StorableText = Field(pattern=r"^[A-Z]{2}$")
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)


# Fields added to the checkout body after orders were placed without them. Left out of the
# fingerprint when absent, so a retry of an order placed before a field existed still matches
# the fingerprint its saga keeps (otherwise: 422 idempotency_key_reused for the same body).
_ADDED_LATER = {"shipping_address": ("state",)}


class OrderLineIn(RequestModel):
    sku: StorableText = Field(min_length=1, max_length=64)
    quantity: int = Field(ge=1, le=10_000)


class OrderCreate(RequestModel):
    customer_id: StorableText = Field(min_length=1, max_length=100)
    currency: StorableText = Field(pattern=r"^[a-z]{3}$")
    lines: list[OrderLineIn] = Field(min_length=1, max_length=100)
    shipping_address: ShippingAddress
    payment_method: StorableText = Field(min_length=1, max_length=100)

    def fingerprint_payload(self) -> dict[str, Any]:
        """The body as its idempotency fingerprint reads it (domain.ids.request_fingerprint)."""
        payload = self.model_dump(mode="json")
        for part, fields in _ADDED_LATER.items():
            for name in fields:
                if payload[part].get(name) is None:
                    del payload[part][name]
        return payload


class ParcelIn(RequestModel):
    length_cm: float = Field(gt=0, le=500)
    width_cm: float = Field(gt=0, le=500)
    height_cm: float = Field(gt=0, le=500)
    weight_grams: int = Field(gt=0, le=150_000)


class AcceptBody(RequestModel):
    """The supplier takes the order, with its own reference for it (shown on the order)."""

    supplier_order_ref: StorableText = Field(min_length=1, max_length=100)


class RejectBody(RequestModel):
    """The supplier cannot fulfil the order; the vendor's `on_reject` rule decides what next."""

    reason: Literal["out_of_stock", "cannot_ship", "other"]
    note: StorableText = Field(default="", max_length=500)


class ShipBody(RequestModel):
    """Either the vendor's own carrier and tracking number, or a label the platform buys."""

    carrier: StorableText | None = Field(default=None, min_length=1, max_length=60)
    tracking_number: StorableText | None = Field(default=None, min_length=1, max_length=100)
    purchase_label: bool = False
    parcel: ParcelIn | None = None

    @model_validator(mode="after")
    def _one_way_to_ship(self) -> ShipBody:
        if self.purchase_label:
            if self.parcel is None:
                raise ValueError("purchase_label needs a parcel")
            if self.carrier or self.tracking_number:
                raise ValueError("give carrier and tracking_number, or purchase_label; not both")
        elif not self.carrier or not self.tracking_number:
            raise ValueError("carrier and tracking_number are required (or purchase_label)")
        return self


class CancelBody(RequestModel):
    reason: StorableText = Field(default="requested_by_customer", min_length=1, max_length=200)
