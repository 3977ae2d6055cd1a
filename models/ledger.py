"""The money ledger: one row per movement (API.md money rules; issue #3).

Totals shown by the API (`refunded_cents`, `payout_cents`, `payout_status`, ...) are derived
from these rows by `domain.ledger`. A retried activity records nothing twice: each row has an
idempotency key, and a provider object (re_, tr_, trr_ ...) is recorded once per kind.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from models.base import json_column, money, timestamp


class LedgerEntry(SQLModel, table=True):
    __tablename__ = "ledger_entry"
    __table_args__ = (UniqueConstraint("kind", "provider_id", name="ledger_provider_object_once"),)
    id: int | None = Field(default=None, sa_column=Column(BigInteger, primary_key=True))
    order_id: str = Field(foreign_key="orders.id", index=True, max_length=40)
    vendor_order_id: str | None = Field(default=None, index=True, max_length=40)
    vendor_id: str | None = Field(default=None, index=True, max_length=40)
    kind: str = Field(max_length=30)
    amount_cents: int = money()
    refunded_goods_cents: int = money(default=0)
    currency: str = Field(max_length=3)
    provider_id: str | None = Field(default=None, max_length=64)
    idempotency_key: str = Field(max_length=200, unique=True)
    detail: dict[str, Any] = json_column()
    created_at: datetime = timestamp(index=True)


class WebhookEvent(SQLModel, table=True):
    """Provider events already handled: the same event delivered twice acts once."""

    __tablename__ = "webhook_event"
    id: str = Field(primary_key=True, max_length=80)
    provider: str = Field(max_length=20)
    type: str = Field(max_length=80)
    received_at: datetime = timestamp()
