"""Orders, their lines and their event log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Column, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from models.base import json_column, money, timestamp


class Order(SQLModel, table=True):
    __tablename__ = "orders"
    id: str = Field(primary_key=True, max_length=40)
    status: str = Field(max_length=20, index=True)
    customer_id: str = Field(max_length=100, index=True)
    currency: str = Field(max_length=3)
    subtotal_cents: int = money(default=0)
    shipping_cents: int = money(default=0)
    total_cents: int = money(default=0)
    refunded_cents: int = money(default=0)
    # Checkout idempotency: the same key with another body is refused (API.md).
    idempotency_key: str = Field(max_length=255)
    request_fingerprint: str = Field(max_length=64)
    shipping_address: dict[str, Any] = json_column()
    payment_method: str = Field(max_length=100)
    rejection: dict[str, Any] | None = Field(default=None, sa_column=Column(JSONB, nullable=True))
    workflow_id: str = Field(max_length=80)
    created_at: datetime = timestamp(index=True)
    updated_at: datetime = timestamp()


class OrderLine(SQLModel, table=True):
    __tablename__ = "order_line"
    __table_args__ = (UniqueConstraint("order_id", "line_no"),)
    id: int | None = Field(default=None, primary_key=True)
    order_id: str = Field(foreign_key="orders.id", index=True)
    line_no: int
    sku: str = Field(max_length=64)
    vendor_id: str = Field(max_length=40)
    quantity: int
    unit_price_cents: int = money()
    line_total_cents: int = money()


class OrderEvent(SQLModel, table=True):
    """Append-only history of an order; `dedup_key` makes a retried write a no-op."""

    __tablename__ = "order_event"
    id: int | None = Field(default=None, sa_column=Column(BigInteger, primary_key=True))
    order_id: str = Field(foreign_key="orders.id", index=True)
    vendor_order_id: str | None = Field(default=None, max_length=40)
    type: str = Field(max_length=60)
    detail: dict[str, Any] = json_column()
    dedup_key: str = Field(max_length=200, unique=True)
    at: datetime = timestamp()
