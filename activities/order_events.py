"""An order event: one row in `order_event` (the record the API shows) and one message on the
live feed (Redis pub/sub behind the SSE endpoint). Shared by every activity class that
changes an order.

Both carry the event's identity (the row's `dedup_key`), so the SSE stream, which reads the
history and then the live feed, sends each event once: two returns on one vendor order are two
events, and a raised-cleared-raised attention is three.
"""

from __future__ import annotations

from contextvars import ContextVar
from datetime import datetime
from typing import Any

from sqlalchemy.dialects.postgresql import insert
from sqlmodel.ext.asyncio.session import AsyncSession

from activities.events import EventPublisher
from models.base import utcnow
from models.order import OrderEvent
from stores.db import execute_sql

# What the running activity recorded last, by (order, type, vendor order): the announce that
# follows a record_event publishes the identity the row got, including the instant that makes
# a recurring event unique, without every caller having to hand it over. Each activity runs
# in its own asyncio task, so nothing leaks between activities.
_recorded: ContextVar[dict[tuple[str, str, str | None], str] | None] = ContextVar(
    "recorded_order_events", default=None
)


def event_identity(
    order_id: str, event_type: str, vendor_order_id: str | None = None, key: str = ""
) -> str:
    """The identity of an event that happens once per order or vendor order (or per `key`,
    e.g. a return id)."""
    return f"{vendor_order_id or order_id}:{event_type}{':' + key if key else ''}"


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
) -> str:
    """Record the event once (a retried write is a no-op); returns its identity."""
    # Events that can recur (attention raised, cleared, raised again) are recorded each time.
    dedup_key = event_identity(order_id, event_type, vendor_order_id, key)
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
    recorded = dict(_recorded.get() or {})
    recorded[(order_id, event_type, vendor_order_id)] = dedup_key
    _recorded.set(recorded)
    return dedup_key


async def announce(
    events: EventPublisher,
    order_id: str,
    event_type: str,
    detail: dict[str, Any],
    vendor_order_id: str | None = None,
    *,
    event_id: str | None = None,
) -> None:
    """Publish the event on the live feed with its identity: `event_id` when given, else the
    one record_event gave it in this activity, else the once-per-order identity."""
    if event_id is None:
        recorded = _recorded.get() or {}
        event_id = recorded.get((order_id, event_type, vendor_order_id)) or event_identity(
            order_id, event_type, vendor_order_id
        )
    await events.publish(
        order_id,
        {
            "id": event_id,
            "type": event_type,
            "at": utcnow().isoformat(),
            "vendor_order_id": vendor_order_id,
            "detail": detail,
        },
    )
