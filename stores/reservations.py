"""Reservations: the units held for an order, written through the audited stock path
(stores.stock_changes) and settled once: released (order refused, vendor order cancelled),
committed (shipped) or expired.

Every writer locks the stock_level rows in (sku, warehouse) order first (`lock_levels`).
Reservations expire unless their workflow renews them, so a workflow terminated by hand never
keeps stock: the reaper (jobs/reaper.py) gives it back with `Reservations.release_expired`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import Row, text
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.routing import Allocated
from models.base import utcnow
from models.stock import Reservation
from stores.db import execute_sql
from stores.stock_changes import StockAnnouncer, StockChange, change_level

_LOCK_LEVELS = text(
    "SELECT sku, warehouse_id, on_hand, reserved FROM stock_level "
    "WHERE sku = ANY(:skus) ORDER BY sku, warehouse_id FOR UPDATE"
)


async def lock_levels(session: AsyncSession, skus: Sequence[str]) -> Sequence[Row[Any]]:
    """Lock the SKUs' stock levels, in (sku, warehouse) order, until the transaction ends."""
    return (await execute_sql(session, _LOCK_LEVELS, {"skus": skus})).all()


async def hold(
    session: AsyncSession, order_id: str, allocated: Sequence[Allocated], hold_seconds: float
) -> list[StockChange]:
    """Hold the routed units for the order, for `hold_seconds` unless renewed, in the caller's
    transaction (its levels locked). Answers the changes to announce after commit."""
    changes: list[StockChange] = []
    expires = utcnow() + timedelta(seconds=hold_seconds)
    for item in sorted(allocated, key=lambda a: (a.sku, a.warehouse_id)):
        changes.append(
            await change_level(
                session,
                item.sku,
                item.warehouse_id,
                reserved_delta=item.quantity,
                reason="reserved for an order",
                actor=f"order:{order_id}",
                order_id=order_id,
            )
        )
        session.add(
            Reservation(
                order_id=order_id,
                line_no=item.line_no,
                sku=item.sku,
                warehouse_id=item.warehouse_id,
                quantity=item.quantity,
                expires_at=expires,
            )
        )
    return changes


class Reservations:
    """Settling held units, each settlement in its own transaction, announced after commit
    (the Redis admission gate, low-stock alerts). Used by the inventory activities and the
    reaper."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], announcer: StockAnnouncer
    ) -> None:
        self._sessions = sessions
        self._announcer = announcer

    async def release_expired(self, limit: int = 500) -> int:
        """The reaper: release reservations whose workflow stopped renewing them."""
        async with self._sessions() as session:
            orders = (
                await execute_sql(
                    session,
                    text(
                        "SELECT DISTINCT order_id FROM reservation WHERE status = 'held'"
                        " AND expires_at < now() LIMIT :limit"
                    ),
                    {"limit": limit},
                )
            ).all()
        units = 0
        for row in orders:
            units += await self.settle(
                str(row.order_id), None, "expired", "reservation expired", expired_only=True
            )
        return units

    async def settle(
        self,
        order_id: str,
        skus: Sequence[str] | None,
        outcome: str,
        reason: str,
        *,
        expired_only: bool = False,
    ) -> int:
        """End the order's held units (of `skus`, or all) as `outcome`: "committed" takes them
        off the shelf, any other gives them back. Returns the units settled."""
        changes: list[StockChange] = []
        async with self._sessions() as session, session.begin():
            query = select(Reservation).where(
                Reservation.order_id == order_id, Reservation.status == "held"
            )
            if skus is not None:
                query = query.where(col(Reservation.sku).in_(list(skus)))
            if expired_only:
                query = query.where(col(Reservation.expires_at) < utcnow())
            held = (await session.exec(query.with_for_update(skip_locked=expired_only))).all()
            if not held:
                return 0
            await lock_levels(session, sorted({r.sku for r in held}))
            shelf = -1 if outcome == "committed" else 0
            for reservation in sorted(held, key=lambda r: (r.sku, r.warehouse_id)):
                changes.append(
                    await change_level(
                        session,
                        reservation.sku,
                        reservation.warehouse_id,
                        on_hand_delta=shelf * reservation.quantity,
                        reserved_delta=-reservation.quantity,
                        reason=reason,
                        actor="reaper" if expired_only else f"order:{order_id}",
                        order_id=order_id,
                    )
                )
                reservation.status = outcome
                session.add(reservation)
            units = sum(r.quantity for r in held)
        await self._announcer.announce(changes)
        return units
