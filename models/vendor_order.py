"""One vendor's part of an order, and its lines."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from models.base import money, optional_timestamp, timestamp


class VendorOrder(SQLModel, table=True):
    __tablename__ = "vendor_order"
    __table_args__ = (UniqueConstraint("order_id", "vendor_id"),)
    id: str = Field(primary_key=True, max_length=40)
    order_id: str = Field(foreign_key="orders.id", index=True)
    vendor_id: str = Field(foreign_key="vendor.id", index=True)
    status: str = Field(max_length=20, index=True)
    currency: str = Field(max_length=3)
    subtotal_cents: int = money(default=0)
    shipping_cents: int = money(default=0)
    commission_bps: int = 0
    commission_cents: int = money(default=0)
    refunded_cents: int = money(default=0)
    label_cost_cents: int = money(default=0)
    payout_cents: int = money(default=0)
    payout_status: str = Field(default="pending", max_length=20)
    carrier: str | None = Field(default=None, max_length=60)
    tracking_number: str | None = Field(default=None, max_length=100)
    label_url: str | None = Field(default=None, max_length=500)
    # The Shippo transaction of a label the platform bought (its cost is label_cost_cents).
    label_transaction_id: str | None = Field(default=None, max_length=64)
    shipped_at: datetime | None = optional_timestamp()
    delivered_at: datetime | None = optional_timestamp()
    return_window_ends_at: datetime | None = optional_timestamp()
    attention: str | None = Field(default=None, max_length=60, index=True)
    # A vendor that acknowledges its orders (issue 13): when this one must be answered by,
    # and its own reference once it accepted.
    ack_due_at: datetime | None = optional_timestamp()
    accepted_at: datetime | None = optional_timestamp()
    supplier_order_ref: str | None = Field(default=None, max_length=100)
    workflow_id: str = Field(max_length=120)
    created_at: datetime = timestamp()
    updated_at: datetime = timestamp()


class VendorOrderLine(SQLModel, table=True):
    __tablename__ = "vendor_order_line"
    id: int | None = Field(default=None, primary_key=True)
    vendor_order_id: str = Field(foreign_key="vendor_order.id", index=True)
    sku: str = Field(max_length=64)
    warehouse_id: str | None = Field(default=None, max_length=40)
    quantity: int
    unit_price_cents: int = money()
