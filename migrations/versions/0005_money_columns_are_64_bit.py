"""money columns are 64-bit

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 01:50:00

A $1,000,000 product bought 22 times overflowed INTEGER in orders.create (issue 9).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MONEY_COLUMNS = (
    ("orders", "subtotal_cents"),
    ("orders", "shipping_cents"),
    ("orders", "total_cents"),
    ("orders", "refunded_cents"),
    ("order_line", "unit_price_cents"),
    ("order_line", "line_total_cents"),
    ("ledger_entry", "amount_cents"),
    ("ledger_entry", "refunded_goods_cents"),
    ("order_return", "refund_cents"),
    ("order_return_line", "unit_price_cents"),
    ("vendor_order", "subtotal_cents"),
    ("vendor_order", "shipping_cents"),
    ("vendor_order", "commission_cents"),
    ("vendor_order", "refunded_cents"),
    ("vendor_order", "label_cost_cents"),
    ("vendor_order", "payout_cents"),
    ("vendor_order_line", "unit_price_cents"),
    ("product", "price_cents"),
    ("price_tier", "price_cents"),
    ("payment", "amount_cents"),
)


def upgrade() -> None:
    for table, column in MONEY_COLUMNS:
        op.alter_column(table, column, type_=sa.BigInteger(), existing_type=sa.Integer())


def downgrade() -> None:
    for table, column in MONEY_COLUMNS:
        op.alter_column(table, column, type_=sa.Integer(), existing_type=sa.BigInteger())
