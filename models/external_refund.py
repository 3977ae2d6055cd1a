"""Money Stripe gave back to the buyer without this system asking (a dashboard refund, a lost
dispute), and how it was shared among the order's vendor orders.

One row per Stripe object, written once: the sharing is decided the first time any event
announces it and read back by every later event and activity, so the ledger keys derived from
it never change, whatever happens to the order in between (issue 9, defect 1).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Field, SQLModel

from models.base import json_column, money, timestamp


class ExternalRefundRecord(SQLModel, table=True):
    __tablename__ = "external_refund"
    # A Stripe refund (re_...) or a lost dispute (dp_...).
    refund_id: str = Field(primary_key=True, max_length=64)
    payment_intent_id: str = Field(max_length=64, index=True)
    amount_cents: int = money()
    # {"shares": [{"vendor_order_id", "amount_cents", "provider_refund_id"}, ...]}; the
    # provider_refund_id names the ledger entry (`stripe-refund:{provider_refund_id}`).
    attribution: dict[str, Any] = json_column()
    created_at: datetime = timestamp()
