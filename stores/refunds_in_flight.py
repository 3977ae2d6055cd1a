"""Refunds of ours on their way to Stripe (models/refund_in_flight.py): announced before
Stripe is asked, withdrawn when recorded in the ledger or refused."""

from __future__ import annotations

from sqlalchemy import delete, func
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.base import utcnow
from models.refund_in_flight import RefundInFlight
from stores.db import execute_sql


async def announce(
    session: AsyncSession, ledger_key: str, order_id: str, vendor_order_id: str, cents: int
) -> None:
    """This refund is about to be asked of Stripe (again: a retry keeps one row, at the amount
    it asks now). The caller commits before asking."""
    statement = insert(RefundInFlight).values(
        ledger_key=ledger_key,
        order_id=order_id,
        vendor_order_id=vendor_order_id,
        amount_cents=cents,
        created_at=utcnow(),
    )
    await execute_sql(
        session,
        statement.on_conflict_do_update(
            index_elements=["ledger_key"], set_={"amount_cents": statement.excluded.amount_cents}
        ),
    )


async def withdraw(session: AsyncSession, ledger_key: str) -> None:
    await execute_sql(
        session, delete(RefundInFlight).where(col(RefundInFlight.ledger_key) == ledger_key)
    )


async def cents_of(session: AsyncSession, vendor_order_id: str, *, besides: str = "") -> int:
    """What refunds of ours in flight may already have given back for this vendor order
    (all but the one keyed `besides`)."""
    total = await session.exec(
        select(func.coalesce(func.sum(RefundInFlight.amount_cents), 0)).where(
            RefundInFlight.vendor_order_id == vendor_order_id,
            RefundInFlight.ledger_key != besides,
        )
    )
    return int(total.one())
