"""A vendor order's parcel: shipping it (own tracking number or a bought label), following
it with the carrier, and its delivery."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel


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


class TrackingProblem(BaseModel):
    """The carrier says the parcel failed or is coming back (Shippo FAILURE / RETURNED)."""

    status: str
    detail: str = ""

    @property
    def parcel_returned(self) -> bool:
        """Coming back to the vendor, rather than failed on the way (Shippo's own word)."""
        return self.status == "RETURNED"


class DeliveryRecord(BaseModel):
    vendor_order_id: str
    order_id: str
    delivered_at: datetime
    return_window_ends_at: datetime
