"""The public shapes the API answers with (stores/order_views.py reads them), 404 when the
object does not exist."""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from api.errors import Problem
from domain.errors import ErrorCode
from models.returns import ReturnPublic
from models.views import OrderPublic, VendorOrderPublic
from stores import order_views
from stores.order_views import return_views, vendor_order_views

__all__ = ["order_view", "return_view", "return_views", "vendor_order_view", "vendor_order_views"]


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
