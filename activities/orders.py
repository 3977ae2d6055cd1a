"""The order store in PostgreSQL: what the API reads. Every write is idempotent."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import psycopg
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import DataError
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.events import EventPublisher
from activities.order_events import announce, record_event
from domain.errors import ErrorCode
from domain.ids import charge_idempotency_key, order_workflow_id
from domain.status import PayoutStatus, VendorOrderStatus
from models.base import utcnow
from models.messages.checkout import (
    ConfirmOrderRequest,
    CreateOrderRequest,
    OrderStatusChange,
    OrderTotals,
    RejectOrderRequest,
)
from models.messages.shipping import DeliveryRecord, ShipmentRecord
from models.messages.vendor_order import AttentionChange, CancellationRecord, VendorOrderRef
from models.order import Order, OrderLine
from models.payment import Payment
from models.vendor_order import VendorOrder, VendorOrderLine
from models.views import OrderPublic
from stores import ledger, order_views
from stores.db import execute_sql
from temporal.names import Activity


class OrderStoreActivities:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], events: EventPublisher) -> None:
        self._sessions = sessions
        self._events = events

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[AsyncSession]:
        """One transaction; data the database refuses (a NUL in a text column, a number out of
        its column's range) is the caller's mistake, not an outage: retrying cannot store it,
        so it is a non-retryable validation_error and the saga refuses the order."""
        try:
            async with self._sessions() as session, session.begin():
                yield session
        except (DataError, psycopg.DataError, UnicodeEncodeError) as error:
            raise bad_data(error) from error

    @activity.defn(name=Activity.CREATE_ORDER)
    async def create(self, request: CreateOrderRequest) -> dict[str, Any] | None:
        """Record the order and its lines once; run again for an order already recorded, the
        refusal it was given, if any (a saga whose steps run again after a crash answers it)."""
        order = request.order
        async with self._transaction() as session:
            inserted = await execute_sql(
                session,
                insert(Order)
                .values(
                    id=order.order_id,
                    status=request.status,
                    customer_id=order.customer_id,
                    currency=order.currency,
                    subtotal_cents=request.subtotal_cents,
                    shipping_cents=request.shipping_cents,
                    total_cents=request.total_cents,
                    idempotency_key=order.idempotency_key,
                    request_fingerprint=order.request_fingerprint,
                    shipping_address=order.shipping_address,
                    payment_method=order.payment_method,
                    rejection=request.rejection,
                    workflow_id=order_workflow_id(order.order_id),
                    created_at=utcnow(),
                    updated_at=utcnow(),
                )
                .on_conflict_do_nothing(index_elements=["id"])
                # rowcount is not reliable here (-1): a returned row says it was new.
                .returning(col(Order.id)),
            )
            if inserted.first() is None:  # a retry: the order and its lines are there
                kept = await session.get(Order, order.order_id)
                return dict(kept.rejection) if kept and kept.rejection else None
            for line in request.lines:
                session.add(
                    OrderLine(
                        order_id=order.order_id,
                        line_no=line.line_no,
                        sku=line.sku,
                        vendor_id=line.vendor_id,
                        quantity=line.quantity,
                        unit_price_cents=line.unit_price_cents,
                        line_total_cents=line.line_total_cents,
                    )
                )
            event = "order.rejected" if request.rejection else "order.placed"
            await record_event(session, order.order_id, event, request.rejection or {})
        await announce(self._events, order.order_id, event, request.rejection or {})
        return None

    @activity.defn(name=Activity.SET_REJECTION)
    async def set_rejection(self, request: RejectOrderRequest) -> None:
        """A recorded order the saga then refused: keep why, so a retried key is answered the
        same way after the workflow has closed."""
        async with self._transaction() as session:
            order = await session.get(Order, request.order_id, with_for_update=True)
            if order is None or order.status == "rejected":
                return
            order.status = "rejected"
            order.rejection = request.rejection
            order.updated_at = utcnow()
            session.add(order)
            await record_event(session, order.id, "order.rejected", request.rejection)
        await announce(self._events, request.order_id, "order.rejected", request.rejection)

    @activity.defn(name=Activity.CONFIRM_ORDER)
    async def confirm(self, request: ConfirmOrderRequest) -> OrderPublic:
        """Confirm the order, and answer it as the API shows it, read in the same transaction
        (checkout's 201 is this answer: the API does not read the order again)."""
        async with self._transaction() as session:
            order = await session.get(Order, request.order_id, with_for_update=True)
            if order is None:
                raise RuntimeError(f"order {request.order_id} was never recorded")
            if order.status != "pending":
                return await _view(session, order.id)
            charge = request.charge
            session.add(
                Payment(
                    order_id=order.id,
                    payment_intent_id=charge.payment_intent_id,
                    charge_id=charge.charge_id,
                    amount_cents=charge.amount_cents,
                    currency=order.currency,
                    status="succeeded",
                    idempotency_key=charge_idempotency_key(order.id),
                )
            )
            for plan in request.vendor_orders:
                session.add(
                    VendorOrder(
                        id=plan.vendor_order_id,
                        order_id=order.id,
                        vendor_id=plan.vendor_id,
                        status=VendorOrderStatus.AWAITING_SHIPMENT,
                        currency=order.currency,
                        subtotal_cents=plan.subtotal_cents,
                        shipping_cents=plan.shipping_cents,
                        commission_bps=plan.commission_bps,
                        commission_cents=plan.commission_cents,
                        payout_cents=plan.payout_cents,
                        payout_status=PayoutStatus.PENDING,
                        workflow_id=plan.workflow_id,
                        ack_due_at=(
                            None
                            if plan.ack is None
                            else utcnow() + timedelta(seconds=plan.ack.sla_seconds)
                        ),
                    )
                )
            await session.flush()
            for plan in request.vendor_orders:
                for line in plan.lines:
                    session.add(
                        VendorOrderLine(
                            vendor_order_id=plan.vendor_order_id,
                            sku=line.sku,
                            warehouse_id=line.warehouse_id,
                            quantity=line.quantity,
                            unit_price_cents=plan.unit_prices[line.sku],
                        )
                    )
                await record_event(
                    session, order.id, "vendor_order.created", {}, plan.vendor_order_id
                )
            await ledger.record_charge(session, order, charge.payment_intent_id)
            order.status = "confirmed"
            order.updated_at = utcnow()
            session.add(order)
            await record_event(
                session, order.id, "order.confirmed", {"payment_intent": charge.payment_intent_id}
            )
            view = await _view(session, order.id)
        await announce(self._events, request.order_id, "order.confirmed", {})
        return view

    @activity.defn(name=Activity.SET_ORDER_STATUS)
    async def set_status(self, request: OrderStatusChange) -> None:
        async with self._transaction() as session:
            order = await session.get(Order, request.order_id, with_for_update=True)
            if order is None or order.status == request.status:
                return
            order.status = request.status
            order.updated_at = utcnow()
            session.add(order)
            await record_event(session, order.id, request.event_type, {})
        await announce(self._events, request.order_id, request.event_type, {})

    @activity.defn(name=Activity.RECORD_SHIPMENT)
    async def record_shipment(self, record: ShipmentRecord) -> None:
        await self._update_vendor_order(
            record.vendor_order_id,
            "vendor_order.shipped",
            {"carrier": record.carrier, "tracking_number": record.tracking_number},
            status=VendorOrderStatus.SHIPPED,
            carrier=record.carrier,
            tracking_number=record.tracking_number,
            shipped_at=record.shipped_at,
            **({"label_url": record.label_url} if record.label_url else {}),
        )

    @activity.defn(name=Activity.SET_TOTALS)
    async def set_totals(self, totals: OrderTotals) -> None:
        """Checkout's totals once postage is known (before the charge)."""
        async with self._transaction() as session:
            order = await session.get(Order, totals.order_id, with_for_update=True)
            if order is None:
                raise RuntimeError(f"order {totals.order_id} does not exist")
            order.subtotal_cents = totals.subtotal_cents
            order.shipping_cents = totals.shipping_cents
            order.total_cents = totals.total_cents
            order.updated_at = utcnow()
            session.add(order)

    @activity.defn(name=Activity.RECORD_CANCELLATION)
    async def record_cancellation(self, record: CancellationRecord) -> None:
        detail = {"reason": record.reason, "by": record.by, "refunded_cents": record.refunded_cents}
        async with self._transaction() as session:
            vendor_order = await ledger.vendor_order_of(session, record.vendor_order_id, lock=True)
            if vendor_order.status == VendorOrderStatus.CANCELLED:
                return
            vendor_order.status = VendorOrderStatus.CANCELLED
            await ledger.refresh(session, vendor_order)
            await record_event(
                session,
                record.order_id,
                "vendor_order.cancelled",
                detail,
                record.vendor_order_id,
                record.cancelled_at,
            )
        await announce(
            self._events, record.order_id, "vendor_order.cancelled", detail, record.vendor_order_id
        )

    @activity.defn(name=Activity.RECORD_DELIVERY)
    async def record_delivery(self, record: DeliveryRecord) -> None:
        await self._update_vendor_order(
            record.vendor_order_id,
            "vendor_order.delivered",
            {"return_window_ends_at": record.return_window_ends_at.isoformat()},
            status=VendorOrderStatus.DELIVERED,
            delivered_at=record.delivered_at,
            return_window_ends_at=record.return_window_ends_at,
        )

    @activity.defn(name=Activity.SET_ATTENTION)
    async def set_attention(self, change: AttentionChange) -> None:
        """Why an operator should look at a vendor order (None: nothing any more)."""
        async with self._transaction() as session:
            vendor_order = await session.get(
                VendorOrder, change.vendor_order_id, with_for_update=True
            )
            if vendor_order is None or vendor_order.attention == change.attention:
                return
            vendor_order.attention = change.attention
            vendor_order.updated_at = utcnow()
            session.add(vendor_order)
            event = f"attention.{change.attention or 'cleared'}"
            await record_event(
                session, vendor_order.order_id, event, {}, vendor_order.id, unique=True
            )
            order_id = vendor_order.order_id
        await announce(self._events, order_id, event, {}, change.vendor_order_id)

    @activity.defn(name=Activity.RECORD_COMPLETION)
    async def record_completion(self, ref: VendorOrderRef) -> None:
        await self._update_vendor_order(
            ref.vendor_order_id,
            "vendor_order.completed",
            {},
            status=VendorOrderStatus.COMPLETED,
        )

    async def _update_vendor_order(
        self, vendor_order_id: str, event_type: str, detail: dict[str, Any], **changes: Any
    ) -> None:
        async with self._transaction() as session:
            vendor_order = await session.get(VendorOrder, vendor_order_id, with_for_update=True)
            if vendor_order is None:
                raise RuntimeError(f"vendor order {vendor_order_id} does not exist")
            if vendor_order.status == changes.get("status"):
                return
            for name, value in changes.items():
                setattr(vendor_order, name, value)
            vendor_order.updated_at = utcnow()
            session.add(vendor_order)
            await record_event(session, vendor_order.order_id, event_type, detail, vendor_order_id)
            order_id = vendor_order.order_id
        await announce(self._events, order_id, event_type, detail, vendor_order_id)


def bad_data(error: Exception) -> ApplicationError:
    # The driver's own words (never the statement or its parameters: they carry the buyer's
    # address); the first line is enough to tell a NUL from an out-of-range number.
    cause = getattr(error, "orig", None) or error
    reason = str(cause).splitlines()[0] if str(cause) else type(cause).__name__
    return ApplicationError(
        f"the database cannot store this order's data: {reason}",
        {"reason": reason},
        type=ErrorCode.VALIDATION_ERROR,
        non_retryable=True,
    )


__all__ = ["OrderStoreActivities", "bad_data"]


async def _view(session: AsyncSession, order_id: str) -> OrderPublic:
    view = await order_views.order_view(session, order_id)
    assert view is not None  # read under the lock that found it
    return view
