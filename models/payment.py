"""Money that moved through the payment provider: the buyer's charge and vendor payouts."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from models.base import timestamp


class Payment(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    order_id: str = Field(foreign_key="orders.id", unique=True)
    provider: str = Field(default="stripe", max_length=20)
    payment_intent_id: str = Field(max_length=64, unique=True)
    charge_id: str = Field(max_length=64)
    amount_cents: int
    currency: str = Field(max_length=3)
    status: str = Field(max_length=30)
    idempotency_key: str = Field(max_length=200)
    created_at: datetime = timestamp()


class Payout(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    vendor_order_id: str = Field(foreign_key="vendor_order.id", unique=True)
    vendor_id: str = Field(foreign_key="vendor.id", index=True)
    amount_cents: int
    currency: str = Field(max_length=3)
    destination: str = Field(max_length=64)
    transfer_id: str = Field(max_length=64, unique=True)
    transfer_group: str = Field(max_length=80)
    status: str = Field(max_length=20)
    idempotency_key: str = Field(max_length=200)
    created_at: datetime = timestamp()
