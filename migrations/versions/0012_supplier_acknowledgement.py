"""supplier acknowledgement: the vendor's rules, and each vendor order's answer

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 17:00:00

A vendor may require its orders to be accepted (with its own reference) or rejected within an
ack SLA (issue 13); a rejection cancels its part or moves it to another of its warehouses.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("vendor", sa.Column("ack_sla_seconds", sa.Integer(), nullable=True))
    op.add_column(
        "vendor",
        sa.Column(
            "on_reject",
            sqlmodel.sql.sqltypes.AutoString(length=10),
            nullable=False,
            server_default="cancel",
        ),
    )
    op.add_column(
        "vendor_order",
        sa.Column(
            "supplier_order_ref", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True
        ),
    )
    op.add_column(
        "vendor_order", sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column(
        "vendor_order", sa.Column("ack_due_at", sa.DateTime(timezone=True), nullable=True)
    )


def downgrade() -> None:
    op.drop_column("vendor_order", "ack_due_at")
    op.drop_column("vendor_order", "accepted_at")
    op.drop_column("vendor_order", "supplier_order_ref")
    op.drop_column("vendor", "on_reject")
    op.drop_column("vendor", "ack_sla_seconds")
