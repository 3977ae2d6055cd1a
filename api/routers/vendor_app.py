"""The vendor app: a vendor's own sub-orders, shipping and delivery (API.md, "Vendor app")."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query
from sqlmodel import col, select
from temporalio.client import (
    Client,
    WorkflowHandle,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.service import RPCError, RPCStatusCode

from api.deps import CurrentVendor, SessionDep, TemporalDep
from api.errors import Problem, from_update_failure
from api.views import return_view, return_views, vendor_order_view, vendor_order_views
from domain.errors import ErrorCode
from domain.status import VendorOrderStatus
from models.messages import (
    ParcelMsg,
    ReceiveRequest,
    ReturnState,
    ShipRequest,
    VendorOrderState,
)
from models.returns import OrderReturn, ReceiveBody, ReturnPublic
from models.vendor_order import VendorOrder
from models.views import ShipBody, VendorOrderPublic
from temporal.names import Update

router = APIRouter(prefix="/v1/vendor", tags=["vendor app"])


@router.get("/orders", response_model=list[VendorOrderPublic])
async def list_vendor_orders(
    vendor_id: CurrentVendor,
    session: SessionDep,
    status: VendorOrderStatus | None = Query(default=None),
    limit: int = Query(default=100, ge=1, le=500),
) -> list[VendorOrderPublic]:
    query = select(VendorOrder).where(VendorOrder.vendor_id == vendor_id)
    if status is not None:
        query = query.where(VendorOrder.status == status)
    query = query.order_by(col(VendorOrder.created_at).desc(), col(VendorOrder.id)).limit(limit)
    return await vendor_order_views(session, list(await session.exec(query)))


async def _own(session: SessionDep, vendor_id: str, vendor_order_id: str) -> VendorOrder:
    vendor_order = await session.get(VendorOrder, vendor_order_id)
    if vendor_order is None or vendor_order.vendor_id != vendor_id:
        raise Problem(ErrorCode.NOT_FOUND, "no such vendor order")
    return vendor_order


@router.get("/orders/{vendor_order_id}", response_model=VendorOrderPublic)
async def get_vendor_order(
    vendor_order_id: str, vendor_id: CurrentVendor, session: SessionDep
) -> VendorOrderPublic:
    await _own(session, vendor_id, vendor_order_id)
    return await vendor_order_view(session, vendor_order_id)


@router.post("/orders/{vendor_order_id}/ship", response_model=VendorOrderPublic)
async def ship(
    vendor_order_id: str,
    body: ShipBody,
    vendor_id: CurrentVendor,
    session: SessionDep,
    temporal: TemporalDep,
) -> VendorOrderPublic:
    vendor_order = await _own(session, vendor_id, vendor_order_id)
    # Hold no connection while the workflow works (detached first: a rollback expires rows).
    session.expunge(vendor_order)
    await session.rollback()
    request = ShipRequest(
        carrier=body.carrier or "",
        tracking_number=body.tracking_number or "",
        purchase_label=body.purchase_label,
        parcel=ParcelMsg(**body.parcel.model_dump()) if body.parcel else None,
    )
    await update_vendor_order(temporal, vendor_order, Update.SHIP, request, VendorOrderState)
    return await vendor_order_view(session, vendor_order_id)


@router.post("/orders/{vendor_order_id}/deliver", response_model=VendorOrderPublic)
async def deliver(
    vendor_order_id: str, vendor_id: CurrentVendor, session: SessionDep, temporal: TemporalDep
) -> VendorOrderPublic:
    vendor_order = await _own(session, vendor_id, vendor_order_id)
    # Hold no connection while the workflow works (detached first: a rollback expires rows).
    session.expunge(vendor_order)
    await session.rollback()
    await update_vendor_order(temporal, vendor_order, Update.DELIVER, None, VendorOrderState)
    return await vendor_order_view(session, vendor_order_id)


# Statuses after which a vendor order's workflow has closed for good.
CLOSED_STATUSES = frozenset({VendorOrderStatus.COMPLETED, VendorOrderStatus.CANCELLED})
# A confirmed order's vendor-order workflows start right after the order row is confirmed; a
# worker crash in between delays them by seconds. Wait that long before telling the caller
# to come back (503), never a 409 for a state that is in fact correct.
WORKFLOW_START_WAIT_SECONDS = 8.0
_POLL_SECONDS = 0.25


async def update_vendor_order(
    client: Client,
    vendor_order: VendorOrder,
    name: str,
    arg: Any,
    result_type: type,
    *,
    update_id: str | None = None,
) -> Any:
    """Apply a change through the vendor order's workflow, which decides whether it may."""
    handle = client.get_workflow_handle(vendor_order.workflow_id)
    args = [] if arg is None else [arg]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WORKFLOW_START_WAIT_SECONDS
    while True:
        try:
            return await handle.execute_update(
                name, args=args, id=update_id, result_type=result_type
            )
        except WorkflowUpdateFailedError as error:
            raise from_update_failure(error) from error
        except WorkflowUpdateRPCTimeoutOrCancelledError as error:
            raise Problem(
                ErrorCode.TIMEOUT, "the change is still being applied; send the same request again"
            ) from error
        except RPCError as error:
            if error.status != RPCStatusCode.NOT_FOUND:
                raise
            if vendor_order.status in CLOSED_STATUSES or await _has_closed(handle):
                # The workflow finished: nothing can change this vendor order any more.
                raise Problem(
                    ErrorCode.INVALID_STATE,
                    f"vendor order is {vendor_order.status}",
                    current_status=vendor_order.status,
                ) from error
            if loop.time() >= deadline:
                raise Problem(
                    ErrorCode.UNAVAILABLE,
                    "this vendor order is still being set up; send the same request again",
                    retry_after=2,
                ) from error
        await asyncio.sleep(_POLL_SECONDS)


async def _has_closed(handle: WorkflowHandle[Any, Any]) -> bool:
    """True when the workflow ran and is over; False when it has not started yet."""
    try:
        await handle.describe()
    except RPCError as error:
        if error.status == RPCStatusCode.NOT_FOUND:
            return False
        raise
    return True


@router.get("/returns", response_model=list[ReturnPublic])
async def list_vendor_returns(
    vendor_id: CurrentVendor,
    session: SessionDep,
    status: str | None = Query(default=None, pattern="^(requested|refunded|expired)$"),
    limit: int = Query(default=100, ge=1, le=500),
) -> list[ReturnPublic]:
    """The vendor's returns, newest first: `requested` ones are on their way back."""
    query = (
        select(OrderReturn)
        .join(VendorOrder, col(VendorOrder.id) == col(OrderReturn.vendor_order_id))
        .where(VendorOrder.vendor_id == vendor_id)
    )
    if status is not None:
        query = query.where(OrderReturn.status == status)
    query = query.order_by(col(OrderReturn.requested_at).desc()).limit(limit)
    return await return_views(session, list(await session.exec(query)))


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
    vendor_order = await _own(session, vendor_id, vendor_order_id)
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
