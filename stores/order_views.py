"""Reading orders, vendor orders and returns from PostgreSQL into their public shapes (API.md).

Shared by the API (every answer) and the order activities (checkout's answer is built in the
transaction that confirms the order, so the API need not read it again). The single-object
readers answer None for an id that does not exist; api/views.py turns that into a 404.
"""

from __future__ import annotations

from collections import defaultdict

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.payout import label_recovered_cents
from models.order import Order, OrderEvent, OrderLine
from models.returns import OrderReturn, OrderReturnLine, ReturnLinePublic, ReturnPublic
from models.vendor_order import VendorOrder, VendorOrderLine
from models.views import (
    OrderEventPublic,
    OrderLinePublic,
    OrderPublic,
    VendorOrderLinePublic,
    VendorOrderPublic,
)


async def vendor_order_views(
    session: AsyncSession, vendor_orders: list[VendorOrder]
) -> list[VendorOrderPublic]:
    ids = [vo.id for vo in vendor_orders]
    lines: dict[str, list[VendorOrderLine]] = defaultdict(list)
    if ids:
        query = select(VendorOrderLine).where(col(VendorOrderLine.vendor_order_id).in_(ids))
        for line in await session.exec(query.order_by(col(VendorOrderLine.id))):
            lines[line.vendor_order_id].append(line)
    return [
        VendorOrderPublic(
            **vo.model_dump(
                exclude={"created_at", "updated_at", "commission_bps", "label_cost_cents"},
            ),
            label_cost_cents=_label_recovered(vo),
            label_bought_cents=vo.label_cost_cents,
            lines=[
                VendorOrderLinePublic(
                    sku=line.sku,
                    warehouse_id=line.warehouse_id,
                    quantity=line.quantity,
                    unit_price_cents=line.unit_price_cents,
                )
                for line in lines[vo.id]
            ],
        )
        for vo in vendor_orders
    ]


def _label_recovered(vo: VendorOrder) -> int:
    """The label cost the vendor bears (`label_cost_cents` on the row is what was bought)."""
    left = vo.subtotal_cents + vo.shipping_cents - vo.refunded_cents - vo.commission_cents
    return label_recovered_cents(vo.label_cost_cents, left)


async def vendor_order_view(
    session: AsyncSession, vendor_order_id: str
) -> VendorOrderPublic | None:
    vendor_order = await session.get(VendorOrder, vendor_order_id, populate_existing=True)
    if vendor_order is None:
        return None
    return (await vendor_order_views(session, [vendor_order]))[0]


async def order_view(session: AsyncSession, order_id: str) -> OrderPublic | None:
    order = await session.get(Order, order_id, populate_existing=True)
    if order is None:
        return None
    lines = await session.exec(
        select(OrderLine).where(OrderLine.order_id == order_id).order_by(col(OrderLine.line_no))
    )
    vendor_orders = await session.exec(
        select(VendorOrder)
        .where(VendorOrder.order_id == order_id)
        .order_by(col(VendorOrder.created_at), col(VendorOrder.id))
        .execution_options(populate_existing=True)
    )
    events = await session.exec(
        select(OrderEvent).where(OrderEvent.order_id == order_id).order_by(col(OrderEvent.id))
    )
    return OrderPublic(
        id=order.id,
        status=order.status,
        customer_id=order.customer_id,
        currency=order.currency,
        subtotal_cents=order.subtotal_cents,
        shipping_cents=order.shipping_cents,
        total_cents=order.total_cents,
        refunded_cents=order.refunded_cents,
        created_at=order.created_at,
        workflow_id=order.workflow_id,
        lines=[
            OrderLinePublic(
                sku=line.sku,
                vendor_id=line.vendor_id,
                quantity=line.quantity,
                unit_price_cents=line.unit_price_cents,
                line_total_cents=line.line_total_cents,
            )
            for line in lines
        ],
        vendor_orders=await vendor_order_views(session, list(vendor_orders)),
        returns=await return_views(
            session,
            list(
                await session.exec(
                    select(OrderReturn)
                    .where(OrderReturn.order_id == order_id)
                    .order_by(col(OrderReturn.requested_at), col(OrderReturn.id))
                    .execution_options(populate_existing=True)
                )
            ),
        ),
        events=[
            OrderEventPublic(
                type=e.type, at=e.at, vendor_order_id=e.vendor_order_id, detail=e.detail or None
            )
            for e in events
        ],
    )


async def return_views(session: AsyncSession, returns: list[OrderReturn]) -> list[ReturnPublic]:
    lines: dict[str, list[OrderReturnLine]] = defaultdict(list)
    ids = [r.id for r in returns]
    if ids:
        query = select(OrderReturnLine).where(col(OrderReturnLine.return_id).in_(ids))
        for line in await session.exec(query.order_by(col(OrderReturnLine.id))):
            lines[line.return_id].append(line)
    return [
        ReturnPublic(
            id=r.id,
            order_id=r.order_id,
            vendor_order_id=r.vendor_order_id,
            status=r.status,
            reason=r.reason,
            lines=[
                ReturnLinePublic(
                    sku=line.sku, quantity=line.quantity, unit_price_cents=line.unit_price_cents
                )
                for line in lines[r.id]
            ],
            refund_cents=r.refund_cents,
            restocked=r.restocked,
            requested_at=r.requested_at,
            received_at=r.received_at,
        )
        for r in returns
    ]


async def return_view(session: AsyncSession, return_id: str) -> ReturnPublic | None:
    found = await session.get(OrderReturn, return_id, populate_existing=True)
    if found is None:
        return None
    return (await return_views(session, [found]))[0]
