"""Reading and writing the money ledger, and keeping the derived totals in step.

Not an activity class: the payment activities use it inside their own transactions, so a
movement and the totals derived from it always commit together.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects.postgresql import insert
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.exceptions import ApplicationError

from domain.errors import ErrorCode
from domain.ids import charge_idempotency_key
from domain.ledger import (
    EntryKind,
    Movement,
    VendorOrderMoney,
    VendorOrderTerms,
    vendor_debt_outstanding,
    vendor_order_money,
)
from domain.status import PayoutStatus, VendorOrderStatus
from models.base import utcnow
from models.ledger import LedgerEntry
from models.order import Order
from models.payment import Payment
from models.vendor_order import VendorOrder
from stores.db import execute_sql


def movement(entry: LedgerEntry) -> Movement:
    return Movement(
        kind=EntryKind(entry.kind),
        amount_cents=entry.amount_cents,
        vendor_order_id=entry.vendor_order_id,
        refunded_goods_cents=entry.refunded_goods_cents,
    )


def terms_of(vendor_order: VendorOrder) -> VendorOrderTerms:
    return VendorOrderTerms(
        subtotal_cents=vendor_order.subtotal_cents,
        shipping_cents=vendor_order.shipping_cents,
        commission_bps=vendor_order.commission_bps,
        label_cost_cents=vendor_order.label_cost_cents,
    )


async def entries_of(session: AsyncSession, vendor_order_id: str) -> list[LedgerEntry]:
    query = select(LedgerEntry).where(LedgerEntry.vendor_order_id == vendor_order_id)
    return list(await session.exec(query.order_by(col(LedgerEntry.id))))


async def entry(session: AsyncSession, idempotency_key: str) -> LedgerEntry | None:
    query = select(LedgerEntry).where(LedgerEntry.idempotency_key == idempotency_key)
    return (await session.exec(query)).first()


async def money_of(session: AsyncSession, vendor_order: VendorOrder) -> VendorOrderMoney:
    entries = await entries_of(session, vendor_order.id)
    return vendor_order_money(terms_of(vendor_order), [movement(e) for e in entries])


async def debt_of_vendor(session: AsyncSession, vendor_id: str) -> int:
    query = select(LedgerEntry).where(
        LedgerEntry.vendor_id == vendor_id,
        col(LedgerEntry.kind).in_([EntryKind.VENDOR_DEBT, EntryKind.DEBT_SETTLED]),
    )
    return vendor_debt_outstanding([movement(e) for e in await session.exec(query)])


async def record(
    session: AsyncSession,
    vendor_order: VendorOrder,
    kind: EntryKind,
    amount_cents: int,
    idempotency_key: str,
    *,
    provider_id: str | None = None,
    refunded_goods_cents: int = 0,
    detail: dict[str, Any] | None = None,
) -> bool:
    """Insert one movement unless it is already there. Returns whether it was new."""
    result = await execute_sql(
        session,
        insert(LedgerEntry)
        .values(
            order_id=vendor_order.order_id,
            vendor_order_id=vendor_order.id,
            vendor_id=vendor_order.vendor_id,
            kind=kind,
            amount_cents=amount_cents,
            refunded_goods_cents=refunded_goods_cents,
            currency=vendor_order.currency,
            provider_id=provider_id,
            idempotency_key=idempotency_key,
            detail=detail or {},
            created_at=utcnow(),
        )
        .on_conflict_do_nothing()
        # rowcount is not reliable here (-1): a returned row says it was new.
        .returning(col(LedgerEntry.id)),
    )
    return result.first() is not None


async def record_charge(session: AsyncSession, order: Order, payment_intent_id: str) -> None:
    await execute_sql(
        session,
        insert(LedgerEntry)
        .values(
            order_id=order.id,
            kind=EntryKind.CHARGE,
            amount_cents=order.total_cents,
            currency=order.currency,
            provider_id=payment_intent_id,
            idempotency_key=charge_idempotency_key(order.id),
            detail={},
            created_at=utcnow(),
        )
        .on_conflict_do_nothing(),
    )


async def refresh(session: AsyncSession, vendor_order: VendorOrder) -> VendorOrderMoney:
    """Recompute the vendor order's and its order's totals from the ledger."""
    money = await money_of(session, vendor_order)
    vendor_order.refunded_cents = money.refunded_cents
    vendor_order.commission_cents = money.commission_cents
    vendor_order.payout_cents = money.payout_cents
    vendor_order.payout_status = money.payout_status
    if vendor_order.status == VendorOrderStatus.CANCELLED and not money.transferred_cents:
        # Cancelled before shipping: nothing was or will be paid out.
        vendor_order.payout_status = PayoutStatus.NONE
    vendor_order.updated_at = utcnow()
    session.add(vendor_order)
    refunds = select(LedgerEntry.amount_cents).where(
        LedgerEntry.order_id == vendor_order.order_id, LedgerEntry.kind == EntryKind.REFUND
    )
    # FOR NO KEY UPDATE: writers of one order take turns here, but it does not conflict with
    # the KEY SHARE lock each ledger insert takes on the order (its foreign key), so two
    # writers that both inserted first do not deadlock upgrading to FOR UPDATE.
    order = await session.get(Order, vendor_order.order_id, with_for_update={"key_share": True})
    assert order is not None
    order.refunded_cents = sum(await session.exec(refunds))
    order.updated_at = utcnow()
    session.add(order)
    return money


async def adjust_commission(session: AsyncSession, vendor_order: VendorOrder, step: str) -> None:
    """Commission is earned only on goods kept: a refund after payout gives some back."""
    entries = await entries_of(session, vendor_order.id)
    if any(e.kind == EntryKind.TRANSFER for e in entries):
        delta = (await money_of(session, vendor_order)).commission_to_record_cents
        if delta:
            await record(
                session,
                vendor_order,
                EntryKind.COMMISSION,
                delta,
                f"{vendor_order.id}:commission:{step}",
            )
    await refresh(session, vendor_order)


async def vendor_order_of(
    session: AsyncSession, vendor_order_id: str, *, lock: bool = False
) -> VendorOrder:
    vendor_order = await session.get(VendorOrder, vendor_order_id, with_for_update=lock)
    if vendor_order is None:
        raise ApplicationError(
            f"vendor order {vendor_order_id} does not exist",
            type=ErrorCode.NOT_FOUND,
            non_retryable=True,
        )
    return vendor_order


async def payment_of(session: AsyncSession, order_id: str) -> Payment:
    return (await session.exec(select(Payment).where(Payment.order_id == order_id))).one()
