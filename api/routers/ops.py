"""Operators' calls (API.md, "Operators"; extended compatibly): the orders that need a look,
and refunds of a vendor order. Moving a vendor order to another warehouse is ops_reroute.py.

`GET /v1/ops/orders` reads PostgreSQL, which the workflows keep current; the Temporal Web UI
answers the same questions through search attributes (README, "Finding stuck orders")."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Header, Query
from fastapi.responses import JSONResponse
from pydantic import Field
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import col, select
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowFailureError
from temporalio.service import RPCError, RPCStatusCode

from api.deps import Ops, SessionDep, SettingsDep, TemporalDep, vendor_order_in_scope
from api.errors import Problem, from_update_failure
from api.keyset import in_time_order, time_key
from api.pagination import Page, PageParamsDep, page
from api.routers.webhooks.stripe_events import start_adjustment
from api.vendor_order_updates import CLOSED_STATUSES, update_vendor_order
from api.views import order_view, vendor_order_view
from domain.errors import ErrorCode
from domain.ids import ops_refund_key, payout_adjustment_workflow_id, refund_update_id
from domain.pagination import KeyShape
from domain.status import OrderStatus
from models.base import utcnow
from models.ledger import LedgerEntry
from models.messages.money import PayoutAdjustment, RefundCommand, RefundOutcome
from models.order import Order, OrderEvent
from models.request import RequestModel
from models.text import StorableText
from models.vendor_order import VendorOrder
from models.views import OrderPublic, VendorOrderPublic
from stores.db import execute_sql
from stores.ops_views import needing_a_look
from temporal.names import Update

router = APIRouter(prefix="/v1/ops", tags=["operators"])


ORDERS = KeyShape("ops_orders", (str, str))  # (created_at, id), newest first


@router.get("/orders", response_model=Page[OrderPublic])
async def orders_needing_a_look(
    _: Ops,
    session: SessionDep,
    params: PageParamsDep,
    attention: str | None = Query(
        default=None,
        max_length=60,
        description="a reason (ship_sla_breached, delivery_overdue, payout_failed, ...) or "
        "`any`; when neither this nor `status` is given, `any`",
    ),
    status: OrderStatus | None = Query(default=None),
    vendor_id: str | None = Query(default=None, max_length=40),
) -> Page[OrderPublic]:
    """Orders that need a look, newest first, page by page (docs/listings.md)."""
    if attention is None and status is None:
        attention = "any"
    query = select(Order.id, Order.created_at).distinct()
    if attention is not None or vendor_id is not None:
        query = query.join(VendorOrder, col(VendorOrder.order_id) == col(Order.id))
    query = query.where(*needing_a_look(attention, vendor_id))
    if status is not None:
        query = query.where(Order.status == status)
    query = in_time_order(
        query, col(Order.created_at), col(Order.id), params, ORDERS, newest_first=True
    )
    rows = list(await session.exec(query))
    views = {order_id: await order_view(session, order_id) for order_id, _ in rows[: params.limit]}
    return page(
        rows, params, ORDERS, lambda row: time_key(row[1], row[0]), lambda row: views[row[0]]
    )


# The only refund reasons Stripe takes; any other is refused by Stripe (502 to the operator).
STRIPE_REFUND_REASONS = ("duplicate", "fraudulent", "requested_by_customer")
REFUND_NOTE_EVENT = "vendor_order.refund_note"


class RefundBody(RequestModel):
    amount_cents: int = Field(ge=1, le=100_000_000)
    # Free text for people, kept on the order's events; Stripe is sent one of its own reasons
    # (this one when it is one of them, requested_by_customer otherwise).
    reason: StorableText = Field(default="requested_by_customer", min_length=1, max_length=500)


@router.post(
    "/vendor-orders/{vendor_order_id}/refunds",
    response_model=VendorOrderPublic,
    responses={202: {"description": "still in progress: send the same request again"}},
)
async def refund_vendor_order(
    vendor_order_id: str,
    body: RefundBody,
    idempotency_key: Annotated[str, Header(alias="Idempotency-Key", min_length=1, max_length=255)],
    _: Ops,
    session: SessionDep,
    temporal: TemporalDep,
    settings: SettingsDep,
) -> VendorOrderPublic | JSONResponse:
    """Give part of a vendor order's money back to the buyer. After the vendor was paid, the
    vendor's share is reversed (or, if its balance cannot cover it, netted later)."""
    vendor_order = await vendor_order_in_scope(session, vendor_order_id, None)
    key = ops_refund_key(idempotency_key)
    done = (
        await session.exec(
            select(LedgerEntry).where(
                LedgerEntry.idempotency_key == f"{vendor_order.id}:refund:{key}"
            )
        )
    ).first()
    refundable = (
        vendor_order.subtotal_cents + vendor_order.shipping_cents - vendor_order.refunded_cents
    )
    if done is None and body.amount_cents > refundable:
        raise Problem(
            ErrorCode.VALIDATION_ERROR,
            f"at most {refundable} cents are left to refund",
            refundable_cents=refundable,
        )
    command = RefundCommand(
        order_id=vendor_order.order_id,
        vendor_order_id=vendor_order.id,
        refund_key=key,
        amount_cents=body.amount_cents,
        reason=body.reason if body.reason in STRIPE_REFUND_REASONS else "requested_by_customer",
    )
    # Hold no connection while money moves (detached first: a rollback expires rows).
    session.expunge(vendor_order)
    await session.rollback()
    try:
        async with asyncio.timeout(settings.checkout_timeout.total_seconds()):
            await _refund(temporal, settings.task_queue, vendor_order, command)
    except TimeoutError:
        # Still moving money (the provider is slow): the same request again attaches to it.
        await _keep_note(session, vendor_order, command, body.reason)
        view = await vendor_order_view(session, vendor_order_id)
        return JSONResponse(view.model_dump(mode="json"), status_code=202)
    await _keep_note(session, vendor_order, command, body.reason)
    return await vendor_order_view(session, vendor_order_id)


async def _keep_note(
    session: SessionDep, vendor_order: VendorOrder, command: RefundCommand, note: str
) -> None:
    """The operator's words, once per refund (a retried request adds nothing), on the order's
    events beside the refund they explain."""
    await execute_sql(
        session,
        insert(OrderEvent)
        .values(
            order_id=vendor_order.order_id,
            vendor_order_id=vendor_order.id,
            type=REFUND_NOTE_EVENT,
            detail={
                "note": note,
                "amount_cents": command.amount_cents,
                "stripe_reason": command.reason,
                "by": "ops",
            },
            dedup_key=f"{vendor_order.id}:{REFUND_NOTE_EVENT}:{command.refund_key}",
            at=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=["dedup_key"]),
    )
    await session.commit()


async def _running_or_not_started(temporal: Client, vendor_order: VendorOrder) -> bool:
    """The vendor order's workflow takes the refund: it runs, or it has not started yet (a
    worker crash between confirming the order and starting it; the update then waits for it,
    and answers 503 with Retry-After if it is still not there). False once it has closed,
    as the database says first: Temporal forgets closed workflows after its retention."""
    if vendor_order.status in CLOSED_STATUSES:
        return False
    try:
        described = await temporal.get_workflow_handle(vendor_order.workflow_id).describe()
    except RPCError as error:
        if error.status != RPCStatusCode.NOT_FOUND:
            raise
        return True
    return described.status == WorkflowExecutionStatus.RUNNING


async def _refund(
    temporal: Client, task_queue: str, vendor_order: VendorOrder, command: RefundCommand
) -> None:
    if await _running_or_not_started(temporal, vendor_order):
        await update_vendor_order(
            temporal,
            vendor_order,
            Update.REFUND,
            command,
            RefundOutcome,
            update_id=refund_update_id(command.refund_key),
        )
        return
    # Paid and closed: refund, then take the vendor's share back, in a workflow of its own.
    adjustment = PayoutAdjustment(
        order_id=vendor_order.order_id, vendor_order_id=vendor_order.id, refund=command
    )
    await start_adjustment(temporal, task_queue, adjustment, command.refund_key)
    handle = temporal.get_workflow_handle(
        payout_adjustment_workflow_id(vendor_order.id, command.refund_key)
    )
    try:
        await handle.result()
    except WorkflowFailureError as error:
        # Refused (a dispute is open, the charge is gone): the operator's answer says why, as
        # for a vendor order still running; the same key may be sent again once it has cleared.
        raise from_update_failure(error) from error
