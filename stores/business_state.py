"""The business state people graph, counted in PostgreSQL (the source of truth): orders by
status, vendor orders needing a person by reason, and payouts by state in cents.

Three grouped counts on indexed columns, read at scrape time (jobs/state_metrics.py caches
them), so a dashboard never disagrees with what `GET /v1/ops/orders` shows.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import text
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from stores.db import execute_sql

# A payout the workflow still wants to make but Stripe refused (the vendor order carries the
# `payout_failed` reason until it goes through) is "failed", not "pending": those are the
# cents a vendor is chasing.
_PAYOUTS = text(
    "SELECT CASE WHEN payout_status = 'pending' AND attention = 'payout_failed'"
    " THEN 'failed' ELSE payout_status END AS state, currency,"
    " COALESCE(SUM(payout_cents), 0) AS cents"
    " FROM vendor_order GROUP BY 1, 2"
)
_ORDERS = text("SELECT status, COUNT(*) AS n FROM orders GROUP BY status")
_ATTENTION = text(
    "SELECT attention, COUNT(*) AS n FROM vendor_order WHERE attention IS NOT NULL"
    " GROUP BY attention"
)


@dataclass(frozen=True)
class BusinessState:
    orders_by_status: dict[str, int] = field(default_factory=dict)
    attention_by_reason: dict[str, int] = field(default_factory=dict)
    # (payout state, currency) -> cents
    payout_cents: dict[tuple[str, str], int] = field(default_factory=dict)


async def read_business_state(sessions: async_sessionmaker[AsyncSession]) -> BusinessState:
    async with sessions() as session:
        orders = (await execute_sql(session, _ORDERS)).all()
        attention = (await execute_sql(session, _ATTENTION)).all()
        payouts = (await execute_sql(session, _PAYOUTS)).all()
    return BusinessState(
        orders_by_status={str(row.status): int(row.n) for row in orders},
        attention_by_reason={str(row.attention): int(row.n) for row in attention},
        payout_cents={(str(row.state), str(row.currency)): int(row.cents) for row in payouts},
    )
