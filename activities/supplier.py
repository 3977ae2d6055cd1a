"""A supplier's answers to a vendor order (issue 13): accepted with its own reference, or
rejected, and then, where the vendor's rule says so, moved to another of its warehouses.

Each answer is one transaction with its order event, so a retried activity recognises its own
work: an acceptance is recorded once; a rejection is keyed by its number, and a retry after the
move committed returns the warehouse it moved to instead of moving again.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio import activity

from activities.events import EventPublisher
from activities.order_events import announce, event_identity, record_event
from domain.errors import DomainError
from models.base import utcnow
from models.messages.vendor_order import AcceptanceRecord, RejectionOutcome, RejectionRecord
from models.order import OrderEvent
from models.vendor_order import VendorOrder
from stores.reroute import move_held_stock, other_warehouse
from stores.stock_changes import StockAnnouncer, StockChange
from temporal.names import Activity


class SupplierActivities:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        announcer: StockAnnouncer,
        events: EventPublisher,
    ) -> None:
        self._sessions = sessions
        self._announcer = announcer
        self._events = events

    @activity.defn(name=Activity.RECORD_ACCEPTANCE)
    async def record_acceptance(self, record: AcceptanceRecord) -> None:
        detail = {"supplier_order_ref": record.supplier_order_ref}
        async with self._sessions() as session, session.begin():
            vendor_order = await _locked(session, record.vendor_order_id)
            vendor_order.supplier_order_ref = record.supplier_order_ref
            vendor_order.accepted_at = record.accepted_at
            vendor_order.ack_due_at = None
            vendor_order.updated_at = utcnow()
            session.add(vendor_order)
            await record_event(
                session,
                record.order_id,
                "vendor_order.accepted",
                detail,
                record.vendor_order_id,
                record.accepted_at,
                key=record.supplier_order_ref,
            )
        await announce(
            self._events, record.order_id, "vendor_order.accepted", detail, record.vendor_order_id
        )

    @activity.defn(name=Activity.ANSWER_REJECTION)
    async def answer_rejection(self, record: RejectionRecord) -> RejectionOutcome:
        """Record the rejection and, when the rule is "reroute", move the held stock to
        another of the vendor's warehouses that can hold all of it (none: it stays, and the
        workflow cancels the vendor order)."""
        key = str(record.number)
        changes: list[StockChange] = []
        async with self._sessions() as session, session.begin():
            vendor_order = await _locked(session, record.vendor_order_id)
            done = await _recorded(session, record, key)
            if done is not None:
                return done
            rejected = {"reason": record.reason, "note": record.note}
            await record_event(
                session,
                record.order_id,
                "vendor_order.rejected",
                rejected,
                record.vendor_order_id,
                record.rejected_at,
                key=key,
            )
            moved_to = None
            if record.reroute:
                target = await other_warehouse(session, vendor_order)
                if target is not None:
                    changes = await _move(session, vendor_order, target)
                    moved_to = target if changes else None
            if moved_to is not None:
                vendor_order.ack_due_at = record.next_due_at
                vendor_order.accepted_at = None
                vendor_order.supplier_order_ref = None
                session.add(vendor_order)
                await record_event(
                    session,
                    record.order_id,
                    "vendor_order.rerouted",
                    {"warehouse_id": moved_to, "reason": record.reason},
                    record.vendor_order_id,
                    record.rejected_at,
                    key=key,
                )
        await self._announcer.announce(changes)
        await announce(
            self._events,
            record.order_id,
            "vendor_order.rejected",
            rejected,
            record.vendor_order_id,
            event_id=event_identity(
                record.order_id, "vendor_order.rejected", record.vendor_order_id, key
            ),
        )
        return RejectionOutcome(moved_to=moved_to)


async def _locked(session: AsyncSession, vendor_order_id: str) -> VendorOrder:
    vendor_order = await session.get(VendorOrder, vendor_order_id, with_for_update=True)
    if vendor_order is None:
        raise RuntimeError(f"vendor order {vendor_order_id} does not exist")
    return vendor_order


async def _recorded(
    session: AsyncSession, record: RejectionRecord, key: str
) -> RejectionOutcome | None:
    """What an earlier attempt of this activity decided, if it committed."""
    keys = [
        event_identity(record.order_id, f"vendor_order.{kind}", record.vendor_order_id, key)
        for kind in ("rejected", "rerouted")
    ]
    found = {
        event.type: event
        for event in await session.exec(
            select(OrderEvent).where(col(OrderEvent.dedup_key).in_(keys))
        )
    }
    if "vendor_order.rejected" not in found:
        return None
    rerouted = found.get("vendor_order.rerouted")
    return RejectionOutcome(moved_to=rerouted.detail["warehouse_id"] if rerouted else None)


async def _move(session: AsyncSession, vendor_order: VendorOrder, target: str) -> list[StockChange]:
    """The move, or nothing if it cannot be made after all (a race took the free stock):
    inside a savepoint, so the rejection is still recorded."""
    try:
        async with session.begin_nested():
            return await move_held_stock(session, vendor_order, target, actor="supplier")
    except DomainError:
        return []
