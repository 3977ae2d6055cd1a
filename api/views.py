"""The public shapes the API answers with (stores/order_views.py reads them), 404 when the
object does not exist."""

from __future__ import annotations

from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import SelectOfScalar

from api.errors import Problem
from api.keyset import in_time_order, time_key
from api.pagination import Page, PageParams, page
from domain.errors import ErrorCode
from domain.pagination import KeyShape
from models.returns import OrderReturn, ReturnPublic
from models.views import OrderPublic, VendorOrderPublic
from stores import order_views
from stores.order_views import return_views, vendor_order_views

__all__ = [
    "order_view",
    "return_view",
    "return_views",
    "returns_page",
    "vendor_order_view",
    "vendor_order_views",
]


async def order_view(session: AsyncSession, order_id: str) -> OrderPublic:
    view = await order_views.order_view(session, order_id)
    if view is None:
        raise Problem(ErrorCode.NOT_FOUND, "no such order")
    return view


async def vendor_order_view(session: AsyncSession, vendor_order_id: str) -> VendorOrderPublic:
    view = await order_views.vendor_order_view(session, vendor_order_id)
    if view is None:
        raise Problem(ErrorCode.NOT_FOUND, "no such vendor order")
    return view


async def return_view(session: AsyncSession, return_id: str) -> ReturnPublic:
    view = await order_views.return_view(session, return_id)
    if view is None:
        raise Problem(ErrorCode.NOT_FOUND, "no such return")
    return view


async def returns_page(
    session: AsyncSession,
    query: SelectOfScalar[OrderReturn],
    params: PageParams,
    shape: KeyShape,
    *,
    newest_first: bool,
) -> Page[ReturnPublic]:
    """One page of the returns `query` selects, walked by when they were requested (an
    order's returns and a vendor's)."""
    at, return_id = col(OrderReturn.requested_at), col(OrderReturn.id)
    query = in_time_order(query, at, return_id, params, shape, newest_first=newest_first)
    rows = list(await session.exec(query))
    views = {r.id: r for r in await return_views(session, rows[: params.limit])}
    return page(
        rows, params, shape, lambda r: time_key(r.requested_at, r.id), lambda r: views[r.id]
    )
