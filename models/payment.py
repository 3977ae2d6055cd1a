"""The buyer's payment: which PaymentIntent and Charge an order's refunds and payouts use.

Every movement of money is in the ledger (models/ledger.py); this row is the reference.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from models.base import money, timestamp


class Payment(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    order_id: str = Field(foreign_key="orders.id", unique=True)
    provider: str = Field(default="stripe", max_length=20)
    payment_intent_id: str = Field(max_length=64, unique=True)
    charge_id: str = Field(max_length=64)
    amount_cents: int = money()
    currency: str = Field(max_length=3)
    status: str = Field(max_length=30)
    idempotency_key: str = Field(max_length=200)
    created_at: datetime = timestamp()
