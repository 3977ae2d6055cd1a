"""The storefront's list of orders (issue 13, part 4): `GET /v1/orders`, newest first, page by
page, filtered by customer, status, vendor and creation time (docs/listings.md).

Beside checkout (`POST /v1/orders`, api/routers/checkout.py) on the same path: routes match
by method too, and the checkout lane and the idempotency middleware only see POSTs.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import AwareDatetime
from sqlmodel import col, exists, select

from api.deps import PlatformOrOps, SessionDep
from api.errors import Problem
from api.keyset import in_time_order, time_key
from api.pagination import Page, PageParamsDep, page
from api.views import order_view
from domain.errors import ErrorCode
from domain.pagination import KeyShape
from domain.status import OrderStatus
from models.order import Order, OrderLine
from models.views import OrderPublic

router = APIRouter(prefix="/v1/orders", tags=["orders"])

ORDERS = KeyShape("orders", (str, str))  # (created_at, id), newest first


@router.get("", response_model=Page[OrderPublic])
async def list_orders(
    _: PlatformOrOps,
    session: SessionDep,
    params: PageParamsDep,
    customer_id: Annotated[str | None, Query(max_length=100)] = None,
    status: OrderStatus | None = None,
    vendor_id: Annotated[
        str | None, Query(max_length=40, description="orders with a line of this vendor")
    ] = None,
    created_from: Annotated[
        AwareDatetime | None, Query(description="created at or after (ISO 8601 with offset)")
    ] = None,
    created_to: Annotated[
        AwareDatetime | None, Query(description="created before (ISO 8601 with offset)")
    ] = None,
) -> Page[OrderPublic]:
    """Every order (refused ones too: `status=rejected`), newest first."""
    if created_from is not None and created_to is not None and created_from > created_to:
        raise Problem(
            ErrorCode.VALIDATION_ERROR,
            "created_from is after created_to",
            errors=[
                {
                    "loc": ["query", "created_from"],
                    "msg": "after created_to",
                    "type": "value_error",
                }
            ],
        )
    query = select(Order.id, Order.created_at)
    if customer_id is not None:
        query = query.where(Order.customer_id == customer_id)
    if status is not None:
        query = query.where(Order.status == status)
    if vendor_id is not None:
        query = query.where(
            exists().where(
                col(OrderLine.order_id) == col(Order.id), col(OrderLine.vendor_id) == vendor_id
            )
        )
    if created_from is not None:
        query = query.where(col(Order.created_at) >= created_from)
    if created_to is not None:
        query = query.where(col(Order.created_at) < created_to)
    query = in_time_order(
        query, col(Order.created_at), col(Order.id), params, ORDERS, newest_first=True
    )
    rows = list(await session.exec(query))
    views = {order_id: await order_view(session, order_id) for order_id, _ in rows[: params.limit]}
    return page(
        rows, params, ORDERS, lambda row: time_key(row[1], row[0]), lambda row: views[row[0]]
    )
