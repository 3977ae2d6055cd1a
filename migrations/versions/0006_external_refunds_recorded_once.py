"""external refunds recorded once, by Stripe id

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 10:00:00

How an outside refund is shared among vendor orders is decided once and kept, so a later
event about the same refund cannot share it differently and count it twice (issue 9).
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "external_refund",
        sa.Column("refund_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("payment_intent_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("attribution", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("refund_id"),
    )
    op.create_index(
        op.f("ix_external_refund_payment_intent_id"),
        "external_refund",
        ["payment_intent_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_external_refund_payment_intent_id"), table_name="external_refund")
    op.drop_table("external_refund")
