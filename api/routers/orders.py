"""After checkout: the storefront reads an order, cancels it and opens returns (API.md,
"Orders"). Placing one is api/routers/checkout.py."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Body, Header
from sqlmodel import select

from api.deps import Platform, PlatformOrOps, SessionDep, TemporalDep
from api.errors import Problem
from api.pagination import Page, PageParamsDep
from api.vendor_order_updates import update_vendor_order
from api.views import order_view, return_view, returns_page
from domain.errors import ErrorCode
from domain.ids import return_id_for
from domain.pagination import KeyShape
from domain.status import VendorOrderStatus, order_status_for
from models.base import utcnow
from models.messages.returns import ReturnRequest, ReturnState, ReturnUnits
from models.messages.vendor_order import CancelRequest, VendorOrderState
from models.order import Order
from models.returns import OrderReturn, ReturnCreate, ReturnPublic
from models.vendor_order import VendorOrder
from models.views import CancelBody, OrderPublic
from temporal.names import Update

router = APIRouter(prefix="/v1/orders", tags=["orders"])

# How long a cancellation waits for the order's own status to follow its vendor orders'.
_SETTLE_SECONDS = 5.0


@router.get("/{order_id}", response_model=OrderPublic)
async def get_order(order_id: str, _: PlatformOrOps, session: SessionDep) -> OrderPublic:
    return await order_view(session, order_id)


@router.post("/{order_id}/cancel", response_model=OrderPublic)
async def cancel_order(
    order_id: str,
    principal: PlatformOrOps,
    session: SessionDep,
    temporal: TemporalDep,
    body: Annotated[CancelBody | None, Body()] = None,
) -> OrderPublic:
    """Cancel every vendor order not shipped yet: refunded, stock released. Shipped ones go
    on. A vendor shipping at the same moment wins or loses as a whole (the workflow decides)."""
    reason = (body or CancelBody()).reason
    order = await session.get(Order, order_id)
    if order is None:
        raise Problem(ErrorCode.NOT_FOUND, "no such order")
    waiting = list(
        await session.exec(
            select(VendorOrder).where(
                VendorOrder.order_id == order_id,
                VendorOrder.status == VendorOrderStatus.AWAITING_SHIPMENT,
            )
        )
    )
    if not waiting:
        raise Problem(
            ErrorCode.INVALID_STATE,
            f"nothing left to cancel: the order is {order.status}",
            current_status=order.status,
        )
    for vendor_order in waiting:
        session.expunge(vendor_order)
    await session.rollback()
    request = CancelRequest(reason=reason, by=str(principal.role))
    outcomes = await asyncio.gather(
        *(
            update_vendor_order(temporal, vo, Update.CANCEL, request, VendorOrderState)
            for vo in waiting
        ),
        return_exceptions=True,
    )
    if not any(isinstance(outcome, VendorOrderState) for outcome in outcomes):
        refusal = next(o for o in outcomes if isinstance(o, BaseException))
        if isinstance(refusal, Problem):
            raise refusal
        raise refusal
    await _order_status_settled(session, order_id)
    return await order_view(session, order_id)


async def _order_status_settled(session: SessionDep, order_id: str) -> None:
    """The order's status is the order workflow's to write, a moment after its vendor
    orders'; wait a little for it so the answer is consistent (it always becomes so)."""
    deadline = asyncio.get_running_loop().time() + _SETTLE_SECONDS
    while asyncio.get_running_loop().time() < deadline:
        statuses = list(
            await session.exec(select(VendorOrder.status).where(VendorOrder.order_id == order_id))
        )
        order = await session.get(Order, order_id, populate_existing=True)
        assert order is not None
        if order.status == order_status_for([VendorOrderStatus(s) for s in statuses]):
            break
        await session.rollback()
        await asyncio.sleep(0.1)
    await session.rollback()


@router.post("/{order_id}/returns", response_model=ReturnPublic, status_code=201)
async def open_return(
    order_id: str,
    body: ReturnCreate,
    _: Platform,
    session: SessionDep,
    temporal: TemporalDep,
    idempotency_key: Annotated[
        str | None, Header(alias="Idempotency-Key", min_length=1, max_length=255)
    ] = None,
) -> ReturnPublic:
    """A buyer sends units back, within the return window after delivery. The refund is
    priced now and paid when the vendor receives them."""
    vendor_order = await session.get(VendorOrder, body.vendor_order_id)
    if vendor_order is None or vendor_order.order_id != order_id:
        raise Problem(ErrorCode.NOT_FOUND, "no such vendor order on this order")
    # With an Idempotency-Key, sending the request again answers the same return.
    return_id = return_id_for(order_id, idempotency_key or None)
    if idempotency_key and await session.get(OrderReturn, return_id) is not None:
        return await return_view(session, return_id)
    session.expunge(vendor_order)
    await session.rollback()
    units: dict[str, int] = {}
    for line in body.lines:
        units[line.sku] = units.get(line.sku, 0) + line.quantity
    await update_vendor_order(
        temporal,
        vendor_order,
        Update.OPEN_RETURN,
        ReturnRequest(
            return_id=return_id,
            lines=[ReturnUnits(sku=sku, quantity=count) for sku, count in sorted(units.items())],
            reason=body.reason,
        ),
        ReturnState,
        # Delivered, window open, as the row says: the workflow may not have taken the
        # delivery into its state yet (api/vendor_order_updates.py).
        row_allows_it=vendor_order.return_window_ends_at is not None
        and vendor_order.return_window_ends_at > utcnow(),
    )
    return await return_view(session, return_id)


RETURNS = KeyShape("order_returns", (str, str))  # (requested_at, id), oldest first


@router.get("/{order_id}/returns", response_model=Page[ReturnPublic])
async def list_returns(
    order_id: str, _: PlatformOrOps, session: SessionDep, params: PageParamsDep
) -> Page[ReturnPublic]:
    """The order's returns, oldest first, page by page (docs/listings.md)."""
    if await session.get(Order, order_id) is None:
        raise Problem(ErrorCode.NOT_FOUND, "no such order")
    query = select(OrderReturn).where(OrderReturn.order_id == order_id)
    return await returns_page(session, query, params, RETURNS, newest_first=False)
