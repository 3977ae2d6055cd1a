"""What each Stripe event means for orders. The webhook router verifies and de-duplicates;
this module only routes each event to the workflow that owns the money it touches."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects.postgresql import insert
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.client import Client
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from api.errors import Problem
from domain.errors import ErrorCode
from domain.ids import SOURCE_METADATA, payout_adjustment_workflow_id, stripe_event_dedup_key
from domain.refunds import RefundShare
from models.base import utcnow
from models.messages.money import DisputeSignal, ExternalRefund, ExternalReversal, PayoutAdjustment
from models.order import OrderEvent
from models.payment import Payment
from models.vendor_order import VendorOrder
from stores import external_refunds
from stores.db import execute_sql
from temporal.names import Signal, Workflow

# metadata.source of the refunds and reversals this system makes itself.
OURS = SOURCE_METADATA["source"]


# Events whose object is a Refund. `refund.*` are sent for every refund since API version
# 2024-10-28; `charge.refund.updated` when a charge's refund changes status.
REFUND_EVENTS = ("refund.created", "refund.updated", "refund.failed", "charge.refund.updated")
DISPUTE_EVENTS = ("charge.dispute.created", "charge.dispute.closed", "charge.dispute.updated")
# Every type `handle` acts on. Stripe sends an endpoint every type unless it is limited to
# some: the others (payment_intent.created, payment_intent.succeeded and charge.succeeded with
# every checkout, transfer.created with every payout) are acknowledged without a database
# write (api/routers/webhooks/stripe.py).
ACTED_ON = frozenset(
    (
        *REFUND_EVENTS,
        *DISPUTE_EVENTS,
        "charge.refunded",
        "transfer.reversed",
        "payment_intent.payment_failed",
    )
)


async def handle(
    event: dict[str, Any], session: AsyncSession, temporal: Client, task_queue: str
) -> None:
    kind = event["type"]
    obj = event["data"]["object"]
    if kind in REFUND_EVENTS:
        await _refund(obj, session, temporal, task_queue)
    elif kind == "charge.refunded":
        # Since API version 2022-11-15 a Charge carries no `refunds` unless expanded: the
        # refund.* events are the source. A payload that does carry them (an endpoint set to
        # expand them, an older version) is read too: each refund counts once either way.
        for refund in (obj.get("refunds") or {}).get("data", []):
            await _refund(
                {"payment_intent": obj.get("payment_intent"), **refund},
                session,
                temporal,
                task_queue,
            )
    elif kind in DISPUTE_EVENTS:
        await _dispute(obj, session, temporal, task_queue)
    elif kind == "transfer.reversed":
        await _transfer_reversed(obj, session, temporal, task_queue)
        await _note(event, session)
    elif kind == "payment_intent.payment_failed":
        await _note(event, session)


async def _vendor_orders(
    session: AsyncSession, payment_intent_id: str | None, charge_id: str | None = None
) -> list[VendorOrder]:
    if payment_intent_id:
        found = Payment.payment_intent_id == payment_intent_id
    elif charge_id:
        found = Payment.charge_id == charge_id
    else:
        return []
    payment = (await session.exec(select(Payment).where(found))).first()
    if payment is None:
        return []  # not an order of ours (another integration on the same account)
    query = select(VendorOrder).where(VendorOrder.order_id == payment.order_id)
    return list(await session.exec(query.order_by(col(VendorOrder.id))))


async def _refund(
    refund: dict[str, Any], session: AsyncSession, temporal: Client, task_queue: str
) -> None:
    """A refund counts once it has succeeded (a pending one when it later does); a failed or
    canceled one moved no money. Ours are recorded by the activity that made them."""
    metadata = refund.get("metadata") or {}
    if metadata.get("source") == OURS or refund.get("status") != "succeeded":
        return
    vendor_orders = await _vendor_orders(
        session, _id_of(refund.get("payment_intent")), _id_of(refund.get("charge"))
    )
    await _share_refund(
        session,
        temporal,
        task_queue,
        vendor_orders,
        refund["id"],
        int(refund["amount"]),
        named=metadata.get("vendor_order_id"),
    )


async def _share_refund(
    session: AsyncSession,
    temporal: Client,
    task_queue: str,
    vendor_orders: list[VendorOrder],
    provider_id: str,
    amount_cents: int,
    *,
    named: str | None = None,
) -> None:
    """Money that went back to the buyer outside the system, taken from these vendor orders:
    the one named, or shared by what each can still refund (domain.refunds), as decided the
    first time this refund was seen."""
    if not vendor_orders:
        return
    shares = await _shares_once(session, vendor_orders, provider_id, amount_cents, named)
    by_id = {vo.id: vo for vo in vendor_orders}
    for share in shares:
        vendor_order = by_id.get(share.vendor_order_id)
        if vendor_order is None or share.amount_cents <= 0:
            continue
        await _external_refund(
            temporal,
            task_queue,
            vendor_order,
            ExternalRefund(
                order_id=vendor_order.order_id,
                vendor_order_id=vendor_order.id,
                provider_refund_id=share.provider_refund_id,
                amount_cents=share.amount_cents,
            ),
        )


# A refund of ours in flight is settled in seconds (minutes while Stripe fails).
IN_FLIGHT_RETRY_SECONDS = 5


async def _shares_once(
    session: AsyncSession,
    vendor_orders: list[VendorOrder],
    refund_id: str,
    amount_cents: int,
    named: str | None,
) -> list[RefundShare]:
    """The sharing of this refund: kept the first time, read back every later time.

    Committed in its own transaction before any workflow hears of it, so a delivery that
    fails afterwards (and is sent again) finds the sharing its signals were made from."""
    try:
        async with AsyncSession(session.bind, expire_on_commit=False) as own, own.begin():
            return await external_refunds.decide_once(
                own, vendor_orders[0].order_id, refund_id, amount_cents, named
            )
    except external_refunds.WaitForRefundsInFlight as waiting:
        # Nothing kept: Stripe sends the event again, and by then the refunds of ours have
        # been recorded or refused.
        raise Problem(
            ErrorCode.UNAVAILABLE,
            f"refund {waiting} waits for refunds in flight; send the event again",
            retry_after=IN_FLIGHT_RETRY_SECONDS,
        ) from waiting


async def _external_refund(
    temporal: Client, task_queue: str, vendor_order: VendorOrder, refund: ExternalRefund
) -> None:
    """Through the vendor order's own workflow while it runs, so the refund is serialized with
    its payout; a separate adjustment only once that workflow has closed. Any other failure
    to signal propagates: the webhook answers 5xx and Stripe sends it again."""
    try:
        await temporal.get_workflow_handle(vendor_order.workflow_id).signal(
            Signal.EXTERNAL_REFUND, refund
        )
        return
    except RPCError as error:
        if error.status != RPCStatusCode.NOT_FOUND:
            raise
    await start_adjustment(
        temporal,
        task_queue,
        PayoutAdjustment(
            order_id=refund.order_id, vendor_order_id=vendor_order.id, external=refund
        ),
        refund.provider_refund_id,
    )


async def start_adjustment(
    temporal: Client, task_queue: str, adjustment: PayoutAdjustment, name: str
) -> None:
    """Adjust a closed vendor order's payout; once per (vendor order, refund). One that was
    refused (a dispute open at the time) may be asked for again: its steps are idempotent."""
    try:
        await temporal.start_workflow(
            Workflow.PAYOUT_ADJUSTMENT,
            adjustment,
            id=payout_adjustment_workflow_id(adjustment.vendor_order_id, name),
            task_queue=task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
        )
    except WorkflowAlreadyStartedError:
        pass


async def _transfer_reversed(
    transfer: dict[str, Any], session: AsyncSession, temporal: Client, task_queue: str
) -> None:
    vendor_order_id = (transfer.get("metadata") or {}).get("vendor_order_id")
    vendor_order = await session.get(VendorOrder, vendor_order_id) if vendor_order_id else None
    if vendor_order is None:
        return
    for reversal in (transfer.get("reversals") or {}).get("data", []):
        if (reversal.get("metadata") or {}).get("source") == OURS:
            continue  # recorded by the activity that made it
        external = ExternalReversal(
            order_id=vendor_order.order_id,
            vendor_order_id=vendor_order.id,
            provider_reversal_id=reversal["id"],
            amount_cents=reversal["amount"],
        )
        await start_adjustment(
            temporal,
            task_queue,
            PayoutAdjustment(
                order_id=vendor_order.order_id,
                vendor_order_id=vendor_order.id,
                external_reversal=external,
            ),
            reversal["id"],
        )


async def _dispute(
    dispute: dict[str, Any], session: AsyncSession, temporal: Client, task_queue: str
) -> None:
    signal = DisputeSignal(dispute_id=dispute["id"], status=dispute.get("status", ""))
    vendor_orders = await _vendor_orders(
        session, _id_of(dispute.get("payment_intent")), _id_of(dispute.get("charge"))
    )
    if signal.status == "lost":
        # Stripe took the disputed money back: it counts as a refund, shared by the vendor
        # orders like an unnamed one, and recorded before the hold on the payouts lifts.
        await _share_refund(
            session,
            temporal,
            task_queue,
            vendor_orders,
            dispute["id"],
            int(dispute.get("amount", 0)),
        )
    for vendor_order in vendor_orders:
        try:
            await temporal.get_workflow_handle(vendor_order.workflow_id).signal(
                Signal.DISPUTE, signal
            )
        except RPCError:
            pass  # already paid and closed: nothing unpaid left to hold


async def _note(event: dict[str, Any], session: AsyncSession) -> None:
    """Events with nothing to move: kept on the order's history for people (reconciliation
    compares the ledger with the provider and reports any difference)."""
    obj = event["data"]["object"]
    order_id = (obj.get("metadata") or {}).get("order_id")
    if not order_id:
        return
    exists = await execute_sql(
        session, select(col(VendorOrder.order_id)).where(VendorOrder.order_id == order_id).limit(1)
    )
    if exists.first() is None and event["type"] != "payment_intent.payment_failed":
        return
    await execute_sql(
        session,
        insert(OrderEvent)
        .values(
            order_id=order_id,
            vendor_order_id=(obj.get("metadata") or {}).get("vendor_order_id"),
            type=f"stripe.{event['type']}",
            detail={"event": event["id"], "object": obj.get("id")},
            dedup_key=stripe_event_dedup_key(event["id"]),
            at=utcnow(),
        )
        .on_conflict_do_nothing(),
    )


def _id_of(value: Any) -> str | None:
    """An id from a field that is a bare id, or the object itself when it was expanded."""
    if isinstance(value, dict):
        return str(value.get("id") or "") or None
    return value if isinstance(value, str) and value else None
