"""Returns in PostgreSQL: what the API shows of them. Every write is idempotent."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio import activity

from activities.events import EventPublisher
from activities.order_events import announce, record_event
from models.base import utcnow
from models.messages.returns import ReturnClosing, ReturnRecord
from models.returns import OrderReturn, OrderReturnLine
from stores.db import execute_sql
from temporal.names import Activity


class ReturnActivities:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], events: EventPublisher) -> None:
        self._sessions = sessions
        self._events = events

    @activity.defn(name=Activity.RECORD_RETURN)
    async def record(self, record: ReturnRecord) -> None:
        detail: dict[str, Any] = {
            "return_id": record.return_id,
            "refund_cents": record.refund_cents,
            "lines": [{"sku": line.sku, "quantity": line.quantity} for line in record.lines],
        }
        async with self._sessions() as session, session.begin():
            inserted = await execute_sql(
                session,
                insert(OrderReturn)
                .values(
                    id=record.return_id,
                    order_id=record.order_id,
                    vendor_order_id=record.vendor_order_id,
                    status="requested",
                    reason=record.reason,
                    refund_cents=record.refund_cents,
                    restocked=False,
                    requested_at=record.requested_at,
                    updated_at=utcnow(),
                )
                .on_conflict_do_nothing(index_elements=["id"])
                .returning(col(OrderReturn.id)),
            )
            if inserted.first() is None:
                return
            for line in record.lines:
                session.add(
                    OrderReturnLine(
                        return_id=record.return_id,
                        sku=line.sku,
                        quantity=line.quantity,
                        unit_price_cents=line.unit_price_cents,
                    )
                )
            await record_event(
                session,
                record.order_id,
                "return.requested",
                detail,
                record.vendor_order_id,
                record.requested_at,
                key=record.return_id,
            )
        await announce(
            self._events, record.order_id, "return.requested", detail, record.vendor_order_id
        )

    @activity.defn(name=Activity.CLOSE_RETURN)
    async def close(self, closing: ReturnClosing) -> None:
        """A return refunded (received) or expired (never received in time)."""
        detail: dict[str, Any] = {"return_id": closing.return_id}
        async with self._sessions() as session, session.begin():
            returned = await session.get(OrderReturn, closing.return_id, with_for_update=True)
            if returned is None:
                raise RuntimeError(f"return {closing.return_id} does not exist")
            if returned.status != "requested":
                return
            returned.status = closing.status
            returned.provider_refund_id = closing.provider_refund_id
            if closing.status == "refunded":
                returned.received_at = closing.at
                detail["refund_cents"] = returned.refund_cents
            returned.updated_at = utcnow()
            session.add(returned)
            await record_event(
                session,
                closing.order_id,
                f"return.{closing.status}",
                detail,
                closing.vendor_order_id,
                closing.at,
                key=closing.return_id,
            )
        await announce(
            self._events,
            closing.order_id,
            f"return.{closing.status}",
            detail,
            closing.vendor_order_id,
        )
