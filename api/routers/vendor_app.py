"""The vendor app: a vendor's own sub-orders, shipping and delivery (API.md, "Vendor app")."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Query
from sqlmodel import col, select

from api.deps import CurrentVendor, SessionDep, TemporalDep, vendor_order_in_scope
from api.errors import Problem
from api.keyset import in_time_order, time_key
from api.pagination import Page, PageParamsDep, page
from api.vendor_order_updates import update_vendor_order
from api.views import return_view, returns_page, vendor_order_view, vendor_order_views
from domain.errors import ErrorCode
from domain.pagination import KeyShape
from domain.status import VendorOrderStatus
from models.messages.returns import ReceiveRequest, ReturnState
from models.messages.shipping import ParcelMsg, ShipRequest
from models.messages.vendor_order import AcceptRequest, RejectRequest, VendorOrderState
from models.returns import OrderReturn, ReceiveBody, ReturnPublic
from models.vendor_order import VendorOrder
from models.views import AcceptBody, RejectBody, ShipBody, VendorOrderPublic
from temporal.names import Update

router = APIRouter(prefix="/v1/vendor", tags=["vendor app"])


ORDERS = KeyShape("vendor_orders", (str, str))  # (created_at, id), newest first
RETURNS = KeyShape("vendor_returns", (str, str))  # (requested_at, id), newest first


@router.get("/orders", response_model=Page[VendorOrderPublic])
async def list_vendor_orders(
    vendor_id: CurrentVendor,
    session: SessionDep,
    params: PageParamsDep,
    status: VendorOrderStatus | None = Query(default=None),
) -> Page[VendorOrderPublic]:
    """The calling vendor's sub-orders, newest first, page by page (docs/listings.md)."""
    query = select(VendorOrder).where(VendorOrder.vendor_id == vendor_id)
    if status is not None:
        query = query.where(VendorOrder.status == status)
    query = in_time_order(
        query, col(VendorOrder.created_at), col(VendorOrder.id), params, ORDERS, newest_first=True
    )
    rows = list(await session.exec(query))
    views = {vo.id: vo for vo in await vendor_order_views(session, rows[: params.limit])}
    return page(
        rows, params, ORDERS, lambda vo: time_key(vo.created_at, vo.id), lambda vo: views[vo.id]
    )


@router.get("/orders/{vendor_order_id}", response_model=VendorOrderPublic)
async def get_vendor_order(
    vendor_order_id: str, vendor_id: CurrentVendor, session: SessionDep
) -> VendorOrderPublic:
    await vendor_order_in_scope(session, vendor_order_id, vendor_id)
    return await vendor_order_view(session, vendor_order_id)


@router.post("/orders/{vendor_order_id}/ship", response_model=VendorOrderPublic)
async def ship(
    vendor_order_id: str,
    body: ShipBody,
    vendor_id: CurrentVendor,
    session: SessionDep,
    temporal: TemporalDep,
) -> VendorOrderPublic:
    request = ShipRequest(
        carrier=body.carrier or "",
        tracking_number=body.tracking_number or "",
        purchase_label=body.purchase_label,
        parcel=ParcelMsg(**body.parcel.model_dump()) if body.parcel else None,
    )
    return await _updated(session, temporal, vendor_order_id, vendor_id, Update.SHIP, request)


@router.post("/orders/{vendor_order_id}/accept", response_model=VendorOrderPublic)
async def accept(
    vendor_order_id: str,
    body: AcceptBody,
    vendor_id: CurrentVendor,
    session: SessionDep,
    temporal: TemporalDep,
) -> VendorOrderPublic:
    """The supplier takes the order, with its own reference (docs/supplier-acknowledgement.md).
    The same reference again is a no-op; another one is 409."""
    request = AcceptRequest(supplier_order_ref=body.supplier_order_ref)
    return await _updated(session, temporal, vendor_order_id, vendor_id, Update.ACCEPT, request)


@router.post("/orders/{vendor_order_id}/reject", response_model=VendorOrderPublic)
async def reject(
    vendor_order_id: str,
    body: RejectBody,
    vendor_id: CurrentVendor,
    session: SessionDep,
    temporal: TemporalDep,
) -> VendorOrderPublic:
    """The supplier cannot fulfil it: by the vendor's `on_reject` rule the order moves to
    another of its warehouses (to be accepted there), or is cancelled and refunded."""
    request = RejectRequest(reason=body.reason, note=body.note)
    return await _updated(session, temporal, vendor_order_id, vendor_id, Update.REJECT, request)


@router.post("/orders/{vendor_order_id}/deliver", response_model=VendorOrderPublic)
async def deliver(
    vendor_order_id: str, vendor_id: CurrentVendor, session: SessionDep, temporal: TemporalDep
) -> VendorOrderPublic:
    return await _updated(session, temporal, vendor_order_id, vendor_id, Update.DELIVER, None)


@router.get("/returns", response_model=Page[ReturnPublic])
async def list_vendor_returns(
    vendor_id: CurrentVendor,
    session: SessionDep,
    params: PageParamsDep,
    status: str | None = Query(default=None, pattern="^(requested|refunded|expired)$"),
) -> Page[ReturnPublic]:
    """The vendor's returns, newest first: `requested` ones are on their way back."""
    query = (
        select(OrderReturn)
        .join(VendorOrder, col(VendorOrder.id) == col(OrderReturn.vendor_order_id))
        .where(VendorOrder.vendor_id == vendor_id)
    )
    if status is not None:
        query = query.where(OrderReturn.status == status)
    return await returns_page(session, query, params, RETURNS, newest_first=True)


@router.post("/orders/{vendor_order_id}/returns/{return_id}/receive", response_model=ReturnPublic)
async def receive_return(
    vendor_order_id: str,
    return_id: str,
    vendor_id: CurrentVendor,
    session: SessionDep,
    temporal: TemporalDep,
    body: Annotated[ReceiveBody | None, Body()] = None,
) -> ReturnPublic:
    """The returned units arrived: the buyer is refunded for them, and they are restocked
    unless the body says `{"restock": false}`."""
    vendor_order = await vendor_order_in_scope(session, vendor_order_id, vendor_id)
    found = await session.get(OrderReturn, return_id)
    if found is None or found.vendor_order_id != vendor_order_id:
        raise Problem(ErrorCode.NOT_FOUND, "no such return on this vendor order")
    if found.status == "refunded":
        return await return_view(session, return_id)
    restock = (body or ReceiveBody()).restock
    session.expunge(vendor_order)
    await session.rollback()
    await update_vendor_order(
        temporal,
        vendor_order,
        Update.RECEIVE_RETURN,
        ReceiveRequest(return_id=return_id, restock=restock),
        ReturnState,
    )
    return await return_view(session, return_id)


async def _updated(
    session: SessionDep,
    temporal: TemporalDep,
    vendor_order_id: str,
    vendor_id: str,
    update: str,
    request: object,
) -> VendorOrderPublic:
    """The vendor's own vendor order, after its workflow took `update`."""
    vendor_order = await vendor_order_in_scope(session, vendor_order_id, vendor_id)
    # Hold no connection while the workflow works (detached first: a rollback expires rows).
    session.expunge(vendor_order)
    await session.rollback()
    await update_vendor_order(temporal, vendor_order, update, request, VendorOrderState)
    return await vendor_order_view(session, vendor_order_id)
