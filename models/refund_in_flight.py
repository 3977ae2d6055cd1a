"""A refund of ours on its way to Stripe: written (committed) before Stripe is asked and
removed in the transaction that records the refund in the ledger.

While it exists, the money may already be back with the buyer: an outside refund announced
meanwhile is shared among the vendor orders from what each has left *after* it
(stores/external_refunds.decide_once), and a second refund of the same vendor order counts it
too. Its answer lost, it stays until the activity's retry records what Stripe made (simulation
seed 613: a dashboard refund shared onto a vendor order whose own refund had taken it all).
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from models.base import money, timestamp


class RefundInFlight(SQLModel, table=True):
    __tablename__ = "refund_in_flight"
    # The ledger key the refund will be recorded under (`{vendor_order}:refund:{key}`).
    ledger_key: str = Field(primary_key=True, max_length=255)
    order_id: str = Field(max_length=64, index=True)
    vendor_order_id: str = Field(max_length=64, index=True)
    amount_cents: int = money()
    created_at: datetime = timestamp()
