"""Provider webhooks act once per event: the event's id is recorded as handled in the same
transaction as the effect's own writes, committed only after the effect, never before.

The row is inserted first, uncommitted: a concurrent delivery of the same event waits on its
primary key until this one commits (then it is a duplicate) or rolls back (then it handles
the event itself). A failure or a crash before the commit leaves nothing recorded, so the
provider's retry handles the event anew. The effects that leave the database (workflow
signals and updates) are idempotent by their own keys, so acting again after a crash between
the effect and the commit changes nothing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.dialects.postgresql import insert
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from models.base import utcnow
from models.ledger import WebhookEvent
from stores.db import execute_sql


@asynccontextmanager
async def handling_once(
    session: AsyncSession, event_id: str, provider: str, kind: str
) -> AsyncIterator[bool]:
    """Yields True when the event is new; commits its record with the body's writes when the
    body ends, and records nothing when it raises."""
    await session.rollback()  # a fresh transaction: nothing read before is committed with it
    try:
        first = await execute_sql(
            session,
            insert(WebhookEvent)
            .values(id=event_id, provider=provider, type=kind, received_at=utcnow())
            .on_conflict_do_nothing()
            # rowcount is not reliable here (-1): a returned row says it was new.
            .returning(col(WebhookEvent.id)),
        )
        yield first.first() is not None
    except BaseException:
        await session.rollback()
        raise
    await session.commit()
