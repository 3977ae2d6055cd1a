"""The outbox of order events to the platform's endpoints, in PostgreSQL (docs/platform-events.md).

Two steps, both safe with many workers at once:
- `fan_out` reads `order_event` rows past the outbox's position and writes one delivery per
  subscribed, enabled endpoint (once: a unique (endpoint, event) pair). One worker at a time
  holds the outbox row; the others skip it.
- `claim_due` locks due deliveries with FOR UPDATE SKIP LOCKED, so no two workers send one
  delivery at once, and never one whose order has an earlier delivery to the same endpoint
  still pending: an order's events reach an endpoint in order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.platform_events import payload, public_type, subscribes
from models.platform_webhooks import (
    PlatformDelivery,
    PlatformEndpoint,
    PlatformEventFanned,
    PlatformOutbox,
)
from stores.db import execute_sql

OUTBOX = "order_event"
FAN_OUT_BATCH = 1000
_NEW_EVENTS = text(
    """
    SELECT e.id, e.order_id, e.vendor_order_id, e.type, e.detail, e.at
    FROM order_event e
    WHERE e.id > :safe_id
      AND NOT EXISTS (SELECT 1 FROM platform_event_fanned f WHERE f.order_event_id = e.id)
    ORDER BY e.id
    LIMIT :batch
    """
)
_DUE = text(
    """
    SELECT d.id
    FROM platform_webhook_delivery d
    JOIN platform_webhook_endpoint e ON e.id = d.endpoint_id
    WHERE d.status = 'pending' AND d.next_attempt_at <= :now AND e.status = 'enabled'
      AND NOT EXISTS (
        SELECT 1 FROM platform_webhook_delivery p
        WHERE p.endpoint_id = d.endpoint_id AND p.order_id = d.order_id
          AND p.status = 'pending' AND p.order_event_id < d.order_event_id
      )
    ORDER BY d.next_attempt_at, d.id
    LIMIT :batch
    FOR UPDATE OF d SKIP LOCKED
    """
)


@dataclass(frozen=True)
class FanOut:
    events: int  # order events read
    deliveries: int  # deliveries written
    more: bool  # the batch was full: read again now


async def fan_out(session: AsyncSession, now: datetime, commit_lag: timedelta) -> FanOut:
    """Turn new order events into deliveries. Call in a transaction; commit to publish."""
    outbox = (
        await execute_sql(
            session,
            text(
                "SELECT safe_id, seen_id, seen_at, seen_xid, "
                "pg_snapshot_xmin(pg_current_snapshot())::text::bigint AS oldest_xid "
                "FROM platform_event_outbox "
                "WHERE name = :name FOR UPDATE SKIP LOCKED"
            ),
            {"name": OUTBOX},
        )
    ).first()
    if outbox is None:
        # First run, or another worker holds it. Starting at the newest event is right on the
        # first run: no endpoint can be older than the table that holds endpoints.
        top = await _newest_event_id(session)
        await execute_sql(
            session,
            insert(PlatformOutbox)
            .values(name=OUTBOX, safe_id=top, seen_id=top, seen_at=now)
            .on_conflict_do_nothing(index_elements=["name"]),
        )
        return FanOut(0, 0, False)
    rows = (
        await execute_sql(session, _NEW_EVENTS, {"safe_id": outbox.safe_id, "batch": FAN_OUT_BATCH})
    ).all()
    endpoints = list(
        await session.exec(select(PlatformEndpoint).where(PlatformEndpoint.status == "enabled"))
    )
    deliveries: list[dict[str, Any]] = []
    for row in rows:
        public = public_type(row.type)
        if public is None:
            continue
        body = payload(row.id, public, row.at, row.order_id, row.vendor_order_id, row.detail)
        for endpoint in endpoints:
            # An endpoint hears of what happened after it was registered, as Stripe's do.
            if endpoint.created_at <= row.at and subscribes(endpoint.event_types, public):
                deliveries.append(
                    {
                        "endpoint_id": endpoint.id,
                        "order_event_id": row.id,
                        "order_id": row.order_id,
                        "event_type": public,
                        "payload": body,
                        "status": "pending",
                        "attempts": 0,
                        "next_attempt_at": now,
                        "attempt_log": [],
                        "created_at": now,
                        "updated_at": now,
                    }
                )
    if deliveries:
        await execute_sql(
            session,
            insert(PlatformDelivery)
            .values(deliveries)
            .on_conflict_do_nothing(index_elements=["endpoint_id", "order_event_id"]),
        )
    if rows:
        await execute_sql(
            session,
            insert(PlatformEventFanned)
            .values([{"order_event_id": row.id} for row in rows])
            .on_conflict_do_nothing(index_elements=["order_event_id"]),
        )
    full = len(rows) == FAN_OUT_BATCH
    settled = outbox.seen_at <= now - commit_lag and outbox.oldest_xid >= outbox.seen_xid
    if not full and settled:
        # This read came more than the commit lag after `seen_id` was the newest id, and every
        # transaction open then has ended since: every event at or below it is committed and
        # was read now or before. Safe to pass. (The lag alone would skip an event whose
        # transaction took longer than it to commit.)
        await execute_sql(
            session,
            text("DELETE FROM platform_event_fanned WHERE order_event_id <= :safe"),
            {"safe": outbox.seen_id},
        )
        await execute_sql(
            session,
            text(
                "UPDATE platform_event_outbox SET safe_id = :safe, seen_id = :seen, "
                "seen_at = :now, "
                "seen_xid = pg_snapshot_xmax(pg_current_snapshot())::text::bigint "
                "WHERE name = :name"
            ),
            {
                "safe": max(outbox.safe_id, outbox.seen_id),
                "seen": await _newest_event_id(session),
                "now": now,
                "name": OUTBOX,
            },
        )
    return FanOut(len(rows), len(deliveries), full)


async def _newest_event_id(session: AsyncSession) -> int:
    found = (await execute_sql(session, text("SELECT max(id) FROM order_event"))).scalar()
    return int(found or 0)


async def claim_due(
    session: AsyncSession, now: datetime, batch: int
) -> list[tuple[PlatformDelivery, PlatformEndpoint]]:
    """Due deliveries, locked for this transaction, with their endpoints. At most one per
    (endpoint, order): a later event waits for the earlier one to succeed or be given up."""
    ids = [row.id for row in await execute_sql(session, _DUE, {"now": now, "batch": batch})]
    if not ids:
        return []
    found = await session.exec(
        select(PlatformDelivery, PlatformEndpoint)
        .join(PlatformEndpoint, col(PlatformEndpoint.id) == col(PlatformDelivery.endpoint_id))
        .where(col(PlatformDelivery.id).in_(ids))
        .order_by(col(PlatformDelivery.id))
    )
    return list(found.all())


async def locked_endpoint(session: AsyncSession, endpoint_id: str) -> PlatformEndpoint | None:
    return await session.get(PlatformEndpoint, endpoint_id, with_for_update=True)


async def deliveries_page(
    session: AsyncSession,
    endpoint_id: str,
    fetch: int,
    before_id: int | None,
    status: str | None,
) -> Sequence[PlatformDelivery]:
    """Up to `fetch` of an endpoint's deliveries, newest first, older than `before_id`."""
    query = select(PlatformDelivery).where(PlatformDelivery.endpoint_id == endpoint_id)
    if before_id is not None:
        query = query.where(col(PlatformDelivery.id) < before_id)
    if status is not None:
        query = query.where(PlatformDelivery.status == status)
    query = query.order_by(col(PlatformDelivery.id).desc()).limit(fetch)
    return list(await session.exec(query))


__all__ = ["FanOut", "claim_due", "deliveries_page", "fan_out", "locked_endpoint"]
