"""`GET /v1/ops/orders`: the orders an operator should look at, newest first (API.md,
"Operators"). Reads PostgreSQL, which the workflows keep current; the Temporal Web UI answers
the same questions through search attributes (README, "Finding stuck orders")."""

from __future__ import annotations

from fastapi import APIRouter, Query
from sqlmodel import col, select

from api.deps import Ops, SessionDep
from api.views import order_view
from domain.status import OrderStatus
from models.order import Order
from models.vendor_order import VendorOrder
from models.views import OrderPublic

router = APIRouter(prefix="/v1/ops", tags=["operators"])


@router.get("/orders", response_model=list[OrderPublic])
async def orders_needing_a_look(
    _: Ops,
    session: SessionDep,
    attention: str | None = Query(
        default=None,
        max_length=60,
        description="a reason (ship_sla_breached, delivery_overdue, payout_failed, ...) or "
        "`any`; when neither this nor `status` is given, `any`",
    ),
    status: OrderStatus | None = Query(default=None),
    vendor_id: str | None = Query(default=None, max_length=40),
    limit: int = Query(default=50, ge=1, le=200),
) -> list[OrderPublic]:
    if attention is None and status is None:
        attention = "any"
    query = select(Order.id, Order.created_at).distinct()
    if attention is not None or vendor_id is not None:
        query = query.join(VendorOrder, col(VendorOrder.order_id) == col(Order.id))
    if attention == "any":
        query = query.where(col(VendorOrder.attention).is_not(None))
    elif attention is not None:
        query = query.where(VendorOrder.attention == attention)
    if vendor_id is not None:
        query = query.where(VendorOrder.vendor_id == vendor_id)
    if status is not None:
        query = query.where(Order.status == status)
    query = query.order_by(col(Order.created_at).desc(), col(Order.id).desc()).limit(limit)
    ids = [row[0] for row in await session.exec(query)]
    return [await order_view(session, order_id) for order_id in ids]
