"""the platform's event endpoints, their deliveries, and the outbox's read position

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 16:30:00

Order events go out to the storefront's endpoints through an outbox over the append-only
`order_event` table (docs/platform-events.md, issue 13 part 1).
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_text = sqlmodel.sql.sqltypes.AutoString


def upgrade() -> None:
    op.create_table(
        "platform_webhook_endpoint",
        sa.Column("id", _text(length=40), nullable=False),
        sa.Column("url", _text(length=500), nullable=False),
        sa.Column("description", _text(length=500), nullable=True),
        sa.Column("event_types", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("secret", _text(length=80), nullable=False),
        sa.Column("status", _text(length=20), nullable=False),
        sa.Column("disabled_reason", _text(length=500), nullable=True),
        sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("consecutive_failures", sa.Integer(), nullable=False),
        sa.Column("failing_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        op.f("ix_platform_webhook_endpoint_status"),
        "platform_webhook_endpoint",
        ["status"],
        unique=False,
    )
    op.create_table(
        "platform_webhook_delivery",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("endpoint_id", sa.String(length=40), nullable=False),
        sa.Column("order_event_id", sa.BigInteger(), nullable=False),
        sa.Column("order_id", _text(length=40), nullable=False),
        sa.Column("event_type", _text(length=60), nullable=False),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("status", _text(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        sa.Column("last_error", _text(length=500), nullable=True),
        sa.Column("attempt_log", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["endpoint_id"], ["platform_webhook_endpoint.id"], ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("endpoint_id", "order_event_id"),
    )
    op.create_index(
        "ix_platform_webhook_delivery_due",
        "platform_webhook_delivery",
        ["status", "next_attempt_at"],
        unique=False,
    )
    op.create_index(
        "ix_platform_webhook_delivery_order",
        "platform_webhook_delivery",
        ["endpoint_id", "order_id", "order_event_id"],
        unique=False,
    )
    op.create_table(
        "platform_event_outbox",
        sa.Column("name", _text(length=40), nullable=False),
        sa.Column("safe_id", sa.BigInteger(), nullable=False),
        sa.Column("seen_id", sa.BigInteger(), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("seen_xid", sa.BigInteger(), nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "platform_event_fanned",
        sa.Column("order_event_id", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("order_event_id"),
    )


def downgrade() -> None:
    op.drop_table("platform_event_fanned")
    op.drop_table("platform_event_outbox")
    op.drop_index("ix_platform_webhook_delivery_order", table_name="platform_webhook_delivery")
    op.drop_index("ix_platform_webhook_delivery_due", table_name="platform_webhook_delivery")
    op.drop_table("platform_webhook_delivery")
    op.drop_index(
        op.f("ix_platform_webhook_endpoint_status"), table_name="platform_webhook_endpoint"
    )
    op.drop_table("platform_webhook_endpoint")
