"""warehouse street address: the address a label leaves from

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03 19:20:00

Warehouses were created with a postal code, a country and coordinates only; labels then took
the warehouse's name as the street and its postal code as the city. The address is optional
(existing warehouses have none): a label is refused until it is set (docs/warehouse-addresses.md).

Chained after 0013 while 0014 is written in parallel; re-chain after 0014 when both are merged.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COLUMNS = (
    ("address_line1", 35),
    ("address_line2", 35),
    ("city", 100),
    ("state", 50),
    ("phone", 30),
)


def upgrade() -> None:
    for name, length in _COLUMNS:
        op.add_column(
            "warehouse",
            sa.Column(name, sqlmodel.sql.sqltypes.AutoString(length=length), nullable=True),
        )


def downgrade() -> None:
    for name, _ in reversed(_COLUMNS):
        op.drop_column("warehouse", name)
