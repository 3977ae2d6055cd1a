"""Messages for a vendor's webhook, and whether they were delivered."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


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
