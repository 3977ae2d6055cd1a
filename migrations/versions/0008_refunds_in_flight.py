"""refunds of ours on their way to Stripe

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 16:00:00

A refund is written here before Stripe is asked and removed when it is recorded, so an outside
refund announced in between is never shared onto the money it already gave back (issue 9,
simulation seed 613).
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "refund_in_flight",
        sa.Column("ledger_key", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("order_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("vendor_order_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("ledger_key"),
    )
    op.create_index(
        op.f("ix_refund_in_flight_order_id"), "refund_in_flight", ["order_id"], unique=False
    )
    op.create_index(
        op.f("ix_refund_in_flight_vendor_order_id"),
        "refund_in_flight",
        ["vendor_order_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_refund_in_flight_vendor_order_id"), table_name="refund_in_flight")
    op.drop_index(op.f("ix_refund_in_flight_order_id"), table_name="refund_in_flight")
    op.drop_table("refund_in_flight")
