"""api keys: a name, when last used, when revoked

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 16:30:00

A vendor rotates its keys (issue 13): it names them, sees which are still used, and revokes
the old one. Keys that exist already are named "initial" (the one minted with the vendor).
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "api_key",
        sa.Column(
            "name",
            sqlmodel.sql.sqltypes.AutoString(length=100),
            nullable=False,
            server_default="initial",
        ),
    )
    op.add_column("api_key", sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("api_key", sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column("api_key", "revoked_at")
    op.drop_column("api_key", "last_used_at")
    op.drop_column("api_key", "name")
