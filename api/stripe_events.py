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
from temporalio.service import RPCError

from domain.refunds import attribute_unnamed_refund
from models.base import utcnow
from models.db import execute_sql
from models.messages import DisputeSignal, ExternalRefund, ExternalReversal, PayoutAdjustment
from models.order import OrderEvent
from models.payment import Payment
from models.vendor_order import VendorOrder

OURS = "fulfillment"  # metadata.source of the refunds this system makes itself


async def handle(
    event: dict[str, Any], session: AsyncSession, temporal: Client, task_queue: str
) -> None:
    kind = event["type"]
    obj = event["data"]["object"]
    if kind == "charge.refunded":
        await _charge_refunded(obj, session, temporal, task_queue)
    elif kind in ("charge.dispute.created", "charge.dispute.closed", "charge.dispute.updated"):
        await _dispute(obj, session, temporal, task_queue)
    elif kind == "transfer.reversed":
        await _transfer_reversed(obj, session, temporal, task_queue)
        await _note(event, session)
    elif kind == "payment_intent.payment_failed":
        await _note(event, session)


async def _vendor_orders(session: AsyncSession, payment_intent_id: str | None) -> list[VendorOrder]:
    if not payment_intent_id:
        return []
    payment = (
        await session.exec(select(Payment).where(Payment.payment_intent_id == payment_intent_id))
    ).first()
    if payment is None:
        return []  # not an order of ours (another integration on the same account)
    query = select(VendorOrder).where(VendorOrder.order_id == payment.order_id)
    return list(await session.exec(query.order_by(col(VendorOrder.id))))


async def _charge_refunded(
    charge: dict[str, Any], session: AsyncSession, temporal: Client, task_queue: str
) -> None:
    vendor_orders = await _vendor_orders(session, charge.get("payment_intent"))
    if not vendor_orders:
        return
    by_id = {vo.id: vo for vo in vendor_orders}
    for refund in (charge.get("refunds") or {}).get("data", []):
        metadata = refund.get("metadata") or {}
        if metadata.get("source") == OURS or refund.get("status") == "failed":
            continue  # recorded by the activity that made it
        named = by_id.get(metadata.get("vendor_order_id", ""))
        await _share_refund(
            temporal,
            task_queue,
            [named] if named else vendor_orders,
            refund["id"],
            refund["amount"],
        )


async def _share_refund(
    temporal: Client,
    task_queue: str,
    vendor_orders: list[VendorOrder],
    provider_id: str,
    amount_cents: int,
) -> None:
    """Money that went back to the buyer outside the system, taken from these vendor orders:
    the one named, or shared by what each can still refund (domain.refunds)."""
    refundable = {
        vo.id: vo.subtotal_cents + vo.shipping_cents - vo.refunded_cents for vo in vendor_orders
    }
    amount = min(amount_cents, sum(refundable.values()))
    parts = attribute_unnamed_refund(amount, refundable) if amount > 0 else {}
    by_id = {vo.id: vo for vo in vendor_orders}
    for vendor_order_id, part in parts.items():
        if part <= 0:
            continue
        await _external_refund(
            temporal,
            task_queue,
            by_id[vendor_order_id],
            ExternalRefund(
                order_id=by_id[vendor_order_id].order_id,
                vendor_order_id=vendor_order_id,
                provider_refund_id=provider_id
                if len(parts) == 1
                else f"{provider_id}:{vendor_order_id}",
                amount_cents=part,
            ),
        )


async def _external_refund(
    temporal: Client, task_queue: str, vendor_order: VendorOrder, refund: ExternalRefund
) -> None:
    try:
        await temporal.get_workflow_handle(vendor_order.workflow_id).signal(
            "external_refund", refund
        )
        return
    except RPCError:
        pass  # the vendor order's workflow has closed: adjust the payout on its own
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
    """Adjust a closed vendor order's payout; once per (vendor order, refund)."""
    try:
        await temporal.start_workflow(
            "PayoutAdjustmentWorkflow",
            adjustment,
            id=f"adjust-{adjustment.vendor_order_id}-{name}",
            task_queue=task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
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
    vendor_orders = await _vendor_orders(session, dispute.get("payment_intent"))
    if signal.status == "lost":
        # Stripe took the disputed money back: it counts as a refund, shared by the vendor
        # orders like an unnamed one, and recorded before the hold on the payouts lifts.
        await _share_refund(
            temporal, task_queue, vendor_orders, dispute["id"], int(dispute.get("amount", 0))
        )
    for vendor_order in vendor_orders:
        try:
            await temporal.get_workflow_handle(vendor_order.workflow_id).signal("dispute", signal)
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
            dedup_key=f"stripe:{event['id']}",
            at=utcnow(),
        )
        .on_conflict_do_nothing(),
    )
