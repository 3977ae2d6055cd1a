"""Provider webhooks act once per event: the event's id is recorded before it is handled, and
forgotten again if handling fails, so the provider's retry processes it anew."""

from __future__ import annotations

from sqlalchemy.dialects.postgresql import insert
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from models.base import utcnow
from models.db import execute_sql
from models.ledger import WebhookEvent


async def first_time(session: AsyncSession, event_id: str, provider: str, kind: str) -> bool:
    """Record the event (committed); False when it was recorded already."""
    first = await execute_sql(
        session,
        insert(WebhookEvent)
        .values(id=event_id, provider=provider, type=kind, received_at=utcnow())
        .on_conflict_do_nothing()
        # rowcount is not reliable here (-1): a returned row says it was new.
        .returning(col(WebhookEvent.id)),
    )
    await session.commit()
    return first.first() is not None


async def forget(session: AsyncSession, event_id: str) -> None:
    await session.rollback()
    await execute_sql(
        session,
        WebhookEvent.__table__.delete().where(WebhookEvent.id == event_id),  # type: ignore[attr-defined]
    )
    await session.commit()
