"""Spans that must never run twice at once for one thing, on any worker: a PostgreSQL advisory
lock held, for the span's length, by a transaction of its own.

For a span that reads the ledger, asks a provider, then records the answer in transactions
of its own (no row lock is held while the provider answers): two such spans for one vendor
order, run at once, would both plan from a ledger that shows neither's result yet. The lock's
transaction holds one connection and no row; it ends, and the lock with it, if the worker
dies.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable

from sqlalchemy import text
from sqlmodel.ext.asyncio.session import AsyncSession

from stores.db import execute_sql

_LOCK = text("SELECT pg_advisory_xact_lock(hashtextextended(:name, 0))")


@contextlib.asynccontextmanager
async def one_at_a_time(sessions: Callable[[], AsyncSession], name: str) -> AsyncIterator[None]:
    async with sessions() as session, session.begin():
        await execute_sql(session, _LOCK, {"name": name})
        yield
