"""Operators move an unshipped vendor order to another warehouse (issue #4): the held stock
moves in one transaction, or not at all (stores/reroute.py)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import Field

from api.deps import Ops, SessionDep, vendor_order_in_scope
from api.views import vendor_order_view
from domain.errors import DomainError
from models.request import RequestModel
from models.views import VendorOrderPublic
from stores.reroute import move_held_stock

router = APIRouter(prefix="/v1/ops", tags=["operators"])


class RerouteBody(RequestModel):
    warehouse_id: str = Field(min_length=1, max_length=40)


@router.post("/vendor-orders/{vendor_order_id}/reroute", response_model=VendorOrderPublic)
async def reroute(
    vendor_order_id: str, body: RerouteBody, request: Request, _: Ops, session: SessionDep
) -> VendorOrderPublic:
    vendor_order = await vendor_order_in_scope(session, vendor_order_id, None, lock=True)
    try:
        changes = await move_held_stock(session, vendor_order, body.warehouse_id, actor="ops")
    except DomainError:
        await session.rollback()  # its locks go now, not when the request's session closes
        raise
    await session.commit()
    await request.app.state.announcer.announce(changes)
    return await vendor_order_view(session, vendor_order_id)
