"""An order event: one row in `order_event` (the record the API shows) and one message on the
live feed (Redis pub/sub behind the SSE endpoint). Shared by every activity class that
changes an order."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.dialects.postgresql import insert
from sqlmodel.ext.asyncio.session import AsyncSession

from activities.events import EventPublisher
from models.base import utcnow
from models.db import execute_sql
from models.order import OrderEvent


async def record_event(
    session: AsyncSession,
    order_id: str,
    event_type: str,
    detail: dict[str, Any],
    vendor_order_id: str | None = None,
    at: datetime | None = None,
    *,
    unique: bool = False,
    key: str = "",
) -> None:
    # Most events happen once per order or vendor order (or per `key`, e.g. a return);
    # those that can recur (attention raised, cleared, raised again) are recorded each time.
    dedup_key = f"{vendor_order_id or order_id}:{event_type}{':' + key if key else ''}"
    if unique:
        dedup_key += f":{utcnow().isoformat()}"
    await execute_sql(
        session,
        insert(OrderEvent)
        .values(
            order_id=order_id,
            vendor_order_id=vendor_order_id,
            type=event_type,
            detail=detail,
            dedup_key=dedup_key,
            at=at or utcnow(),
        )
        .on_conflict_do_nothing(index_elements=["dedup_key"]),
    )


async def announce(
    events: EventPublisher,
    order_id: str,
    event_type: str,
    detail: dict[str, Any],
    vendor_order_id: str | None = None,
) -> None:
    await events.publish(
        order_id,
        {
            "type": event_type,
            "at": utcnow().isoformat(),
            "vendor_order_id": vendor_order_id,
            "detail": detail,
        },
    )
