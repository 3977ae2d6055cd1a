"""Writers of one order's ledger take turns on the order's totals and never deadlock: each
ledger insert takes a KEY SHARE lock on its order (the foreign key), so the totals' lock must
not be one that conflicts with it."""

from __future__ import annotations

import asyncio

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.ledger import EntryKind
from providers.stripe_adapter import StripeGateway
from stores import ledger
from tests.money_helpers import (
    emulator_url,
    gateway,
    refunded_of,
    seed_paid_order,
)

__all__ = ["emulator_url", "gateway"]


async def test_two_refunds_of_one_order_recorded_at_once_both_count_without_a_deadlock(
    sessions: async_sessionmaker[AsyncSession], gateway: StripeGateway
) -> None:
    # Given an order of two vendor orders, each getting a refund recorded at the same moment
    order = await seed_paid_order(sessions, gateway, [3000, 2000])
    both_inserted = asyncio.Barrier(2)

    async def record_refund(vendor_order_id: str, key: str, cents: int) -> None:
        async with sessions() as session, session.begin():
            vendor_order = await ledger.vendor_order_of(session, vendor_order_id, lock=True)
            await ledger.record(
                session, vendor_order, EntryKind.REFUND, cents, key, refunded_goods_cents=cents
            )
            await both_inserted.wait()  # both hold their insert's lock on the order row now
            await ledger.refresh(session, vendor_order)

    first, second = order.vendor_orders
    # When both update the order's totals
    await asyncio.wait_for(
        asyncio.gather(record_refund(first, "t-1", 300), record_refund(second, "t-2", 200)),
        timeout=20,
    )
    # Then both count (PostgreSQL aborted neither as a deadlock victim)
    assert await refunded_of(sessions, order.order_id) == 500
