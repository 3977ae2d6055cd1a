"""The reservation reaper: stock whose workflow stopped renewing its hold goes back on sale.

A workflow renews its order's hold while it waits (workflows/vendor_order.py); one terminated
by hand, or stuck past the hold, stops renewing, and its reserved units would be lost to every
other buyer. Every worker process runs this loop (worker.py); many at once are safe.
"""

from __future__ import annotations

import asyncio
import logging

from prometheus_client import Counter
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from stores.reservations import Reservations
from stores.stock_changes import rebuild_gate
from stores.stock_gate import StockGate

log = logging.getLogger("fulfillment.reaper")

# Units, not reservations: what went back on sale is what a merchandiser asks about.
EXPIRED_UNITS = Counter(
    "fulfillment_reservation_expired_units_total",
    "Held units the reaper gave back because their workflow stopped renewing the hold",
)


async def reap(
    reservations: Reservations,
    sessions: async_sessionmaker[AsyncSession],
    gate: StockGate,
    every: float,
    stop: asyncio.Event,
) -> None:
    """Give back stock whose workflow stopped renewing its hold (e.g. terminated by hand),
    and refill the admission gate if Redis lost it. Safe with many workers: each takes the
    expired reservations the others do not lock."""
    while not stop.is_set():
        try:
            if not await gate.is_built():
                async with sessions() as session:
                    log.info(
                        "rebuilt the admission gate (%d SKUs)", await rebuild_gate(session, gate)
                    )
            released = await reservations.release_expired()
            EXPIRED_UNITS.inc(released)
            if released:
                log.info("released %d units whose hold expired", released)
        except Exception:
            log.exception("the reaper failed; it tries again")
        try:
            await asyncio.wait_for(stop.wait(), timeout=every)
        except TimeoutError:
            pass
