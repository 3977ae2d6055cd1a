"""platform endpoints: the secret a rotation replaced, and until when it still signs

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03 19:05:00

`POST /v1/webhook-endpoints/{id}/rotate-secret` (docs/platform-events.md): deliveries are
signed with the new secret and, until `previous_secret_expires_at`, with the replaced one too.
Existing endpoints have no previous secret (both columns null).
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "platform_webhook_endpoint",
        sa.Column("previous_secret", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=True),
    )
    op.add_column(
        "platform_webhook_endpoint",
        sa.Column("previous_secret_expires_at", sa.DateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    op.drop_column("platform_webhook_endpoint", "previous_secret_expires_at")
    op.drop_column("platform_webhook_endpoint", "previous_secret")
