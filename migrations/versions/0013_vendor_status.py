"""vendor lifecycle: a vendor's status (pending, active, suspended) and why it last changed

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03 17:10:00

Vendors that exist are active (they sell today); a new one is active unless ops create it
pending (docs/listings.md). Only an active vendor's products can be bought.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "vendor",
        sa.Column(
            "status",
            sqlmodel.sql.sqltypes.AutoString(length=12),
            nullable=False,
            server_default="active",
        ),
    )
    op.add_column(
        "vendor",
        sa.Column("status_reason", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
    )
    op.add_column(
        "vendor", sa.Column("status_changed_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.create_index("ix_vendor_status", "vendor", ["status"])


def downgrade() -> None:
    op.drop_index("ix_vendor_status", table_name="vendor")
    op.drop_column("vendor", "status_changed_at")
    op.drop_column("vendor", "status_reason")
    op.drop_column("vendor", "status")
