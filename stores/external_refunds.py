"""Outside refunds (and lost disputes), each recorded once by its Stripe id with the sharing
among vendor orders decided the first time it was seen (models/external_refund.py).

The webhook handler decides and commits the sharing before it tells any workflow; the
activity that writes the ledger reads it back, so every event and every retry about one refund
derives the same ledger keys from the same row.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.dialects.postgresql import insert
from sqlmodel import col, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.ledger import EntryKind
from domain.refunds import RefundShare, share_outside_refund
from models.base import utcnow
from models.external_refund import ExternalRefundRecord
from models.ledger import LedgerEntry
from models.payment import Payment
from models.vendor_order import VendorOrder
from stores import refunds_in_flight
from stores.db import execute_sql

LEDGER_PREFIX = "stripe-refund:"


def ledger_key(provider_refund_id: str) -> str:
    return f"{LEDGER_PREFIX}{provider_refund_id}"


def stripe_id_of(provider_refund_id: str) -> str:
    """The Stripe object a share names: ``re_1`` for ``re_1`` and for ``re_1:vo_2``."""
    return provider_refund_id.split(":", 1)[0]


async def shares_of(session: AsyncSession, refund_id: str) -> list[RefundShare] | None:
    """The sharing kept for this refund, or None when it was never decided."""
    row = await session.get(ExternalRefundRecord, refund_id)
    return None if row is None else _decode(row.attribution)


async def keep_once(
    session: AsyncSession,
    refund_id: str,
    payment_intent_id: str,
    amount_cents: int,
    shares: Sequence[RefundShare],
) -> list[RefundShare]:
    """Keep this sharing unless one is kept already; answers the one kept.

    Two deliveries deciding at once: the second insert waits on the first one's key and then
    does nothing, and both read back the first one's sharing.
    """
    await execute_sql(
        session,
        insert(ExternalRefundRecord)
        .values(
            refund_id=refund_id,
            payment_intent_id=payment_intent_id,
            amount_cents=amount_cents,
            attribution=_encode(shares),
            created_at=utcnow(),
        )
        .on_conflict_do_nothing(),
    )
    row = (
        await execute_sql(
            session,
            select(col(ExternalRefundRecord.attribution)).where(
                ExternalRefundRecord.refund_id == refund_id
            ),
        )
    ).one()
    return _decode(row[0])


async def shares_in_ledger(session: AsyncSession, refund_id: str) -> list[RefundShare]:
    """Shares of this refund the ledger already holds: written before the sharing was kept
    (by an older version), they are adopted as the sharing, so nothing is counted twice."""
    key = ledger_key(refund_id)
    query = select(LedgerEntry).where(
        LedgerEntry.kind == EntryKind.REFUND,
        or_(
            col(LedgerEntry.idempotency_key) == key,
            col(LedgerEntry.idempotency_key).startswith(f"{key}:", autoescape=True),
        ),
    )
    return [
        RefundShare(
            vendor_order_id=entry.vendor_order_id or "",
            amount_cents=entry.amount_cents,
            provider_refund_id=entry.idempotency_key.removeprefix(LEDGER_PREFIX),
        )
        for entry in await session.exec(query.order_by(col(LedgerEntry.id)))
    ]


def _encode(shares: Sequence[RefundShare]) -> dict[str, Any]:
    return {
        "shares": [
            {
                "vendor_order_id": share.vendor_order_id,
                "amount_cents": share.amount_cents,
                "provider_refund_id": share.provider_refund_id,
            }
            for share in shares
        ]
    }


def _decode(attribution: dict[str, Any]) -> list[RefundShare]:
    return [
        RefundShare(
            vendor_order_id=str(share["vendor_order_id"]),
            amount_cents=int(share["amount_cents"]),
            provider_refund_id=str(share["provider_refund_id"]),
        )
        for share in attribution.get("shares", [])
    ]


class WaitForRefundsInFlight(Exception):
    """An outside refund cannot be shared in full until refunds of ours in flight are settled:
    sharing it now would take their amount as given back, and if Stripe then refuses them
    (the outside refund took that money first), the outside refund would be lost to the
    ledger for good (simulation seed 834). Decide later: the webhook answers 503 and Stripe
    sends it again; a refund of ours retries."""


async def decide_once(
    session: AsyncSession,
    order_id: str,
    refund_id: str,
    amount_cents: int,
    named: str | None,
    *,
    besides: str = "",
) -> list[RefundShare]:
    """The sharing of this refund among the order's vendor orders: kept the first time (by
    whoever sees it first: the webhook, or a refund of ours that must not refund the same money
    again), read back every later time. `besides` names a refund of ours that Stripe shows
    was not made: it is not counted as in flight. The caller commits.

    Raises WaitForRefundsInFlight when the refund cannot be placed in full only because of
    refunds of ours still in flight."""
    kept = await shares_of(session, refund_id)
    if kept is not None:
        return kept
    payment = (await session.exec(select(Payment).where(Payment.order_id == order_id))).one()
    decided = await shares_in_ledger(session, refund_id)
    if not decided:
        # What each can still refund now, read under lock: refunds of ours on their way to
        # Stripe (or made, their answer lost: stores/refunds_in_flight.py) and other outside
        # refunds already shared but not yet recorded are taken off.
        locked = await session.exec(
            select(VendorOrder)
            .where(VendorOrder.order_id == order_id)
            .order_by(col(VendorOrder.id))
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        refundable = {}
        in_flight = 0
        for vo in locked:
            pending = await unrecorded_cents(session, vo.id, payment.payment_intent_id)
            flying = await refunds_in_flight.cents_of(session, vo.id, besides=besides)
            in_flight += flying
            left = vo.subtotal_cents + vo.shipping_cents - vo.refunded_cents
            refundable[vo.id] = left - pending - flying
        decided = share_outside_refund(refund_id, amount_cents, refundable, named)
        if in_flight and sum(share.amount_cents for share in decided) < amount_cents:
            raise WaitForRefundsInFlight(refund_id)
    return await keep_once(session, refund_id, payment.payment_intent_id, amount_cents, decided)


async def unrecorded_cents(session: AsyncSession, vendor_order_id: str, payment_intent: str) -> int:
    """What outside refunds already gave back for this vendor order but its ledger does not
    hold yet (their workflow signal is still on its way)."""
    rows = await session.exec(
        select(ExternalRefundRecord).where(ExternalRefundRecord.payment_intent_id == payment_intent)
    )
    pending = 0
    for row in rows:
        for share in _decode(row.attribution):
            if share.vendor_order_id != vendor_order_id or share.amount_cents <= 0:
                continue
            recorded = await session.exec(
                select(LedgerEntry).where(
                    LedgerEntry.idempotency_key == ledger_key(share.provider_refund_id)
                )
            )
            if recorded.first() is None:
                pending += share.amount_cents
    return pending
