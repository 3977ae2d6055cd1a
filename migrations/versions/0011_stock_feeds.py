"""stock feeds: feeds, their rows, and per level the time of the last feed that set it

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 16:30:00

Issue 13, part 3: a supplier's bulk file of absolute stock levels, applied by a workflow in
batches (each batch's rows judged once), and an older feed never overwriting a newer one.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _text(length: int) -> sqlmodel.sql.sqltypes.AutoString:
    return sqlmodel.sql.sqltypes.AutoString(length=length)


def upgrade() -> None:
    op.create_table(
        "stock_feed",
        sa.Column("id", _text(40), nullable=False),
        sa.Column("vendor_id", _text(40), nullable=False),
        sa.Column("as_of", sa.DateTime(timezone=True), nullable=False),
        sa.Column("format", _text(8), nullable=False),
        sa.Column("content_sha256", _text(64), nullable=False),
        sa.Column("status", _text(16), nullable=False),
        sa.Column("rows_total", sa.Integer(), nullable=False),
        sa.Column("rows_applied", sa.Integer(), nullable=False),
        sa.Column("rows_unchanged", sa.Integer(), nullable=False),
        sa.Column("rows_refused", sa.Integer(), nullable=False),
        sa.Column("failure", _text(500), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["vendor_id"], ["vendor.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_stock_feed_vendor_id"), "stock_feed", ["vendor_id"], unique=False)
    op.create_table(
        "stock_feed_row",
        sa.Column("feed_id", _text(40), nullable=False),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.Column("sku", _text(64), nullable=True),
        sa.Column("warehouse_id", _text(40), nullable=True),
        sa.Column("quantity", sa.Integer(), nullable=True),
        sa.Column("outcome", _text(16), nullable=True),
        sa.Column("reason", _text(32), nullable=True),
        sa.Column("detail", _text(200), nullable=True),
        sa.ForeignKeyConstraint(["feed_id"], ["stock_feed.id"]),
        sa.PrimaryKeyConstraint("feed_id", "line"),
    )
    op.create_table(
        "stock_feed_mark",
        sa.Column("sku", _text(64), nullable=False),
        sa.Column("warehouse_id", _text(40), nullable=False),
        sa.Column("as_of", sa.DateTime(timezone=True), nullable=False),
        sa.Column("feed_id", _text(40), nullable=False),
        sa.PrimaryKeyConstraint("sku", "warehouse_id"),
    )


def downgrade() -> None:
    op.drop_table("stock_feed_mark")
    op.drop_table("stock_feed_row")
    op.drop_index(op.f("ix_stock_feed_vendor_id"), table_name="stock_feed")
    op.drop_table("stock_feed")
