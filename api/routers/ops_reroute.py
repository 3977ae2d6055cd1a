"""Operators move an unshipped vendor order to another warehouse (issue #4): the held stock
moves in one transaction, or not at all."""

from __future__ import annotations

from collections import defaultdict

from fastapi import APIRouter, Request
from pydantic import Field
from sqlalchemy import text
from sqlmodel import col, select

from api.deps import Ops, SessionDep, vendor_order_in_scope
from api.errors import Problem
from api.views import vendor_order_view
from domain.errors import ErrorCode
from models.request import RequestModel
from models.stock import Reservation
from models.vendor import Warehouse
from models.vendor_order import VendorOrderLine
from models.views import VendorOrderPublic
from stores.db import execute_sql
from stores.stock_changes import StockChange, change_level

router = APIRouter(prefix="/v1/ops", tags=["operators"])


class RerouteBody(RequestModel):
    warehouse_id: str = Field(min_length=1, max_length=40)


@router.post("/vendor-orders/{vendor_order_id}/reroute", response_model=VendorOrderPublic)
async def reroute(
    vendor_order_id: str, body: RerouteBody, request: Request, _: Ops, session: SessionDep
) -> VendorOrderPublic:
    vendor_order = await vendor_order_in_scope(session, vendor_order_id, None, lock=True)
    target = await session.get(Warehouse, body.warehouse_id)
    if target is None or target.vendor_id != vendor_order.vendor_id:
        raise Problem(ErrorCode.NOT_FOUND, "no such warehouse of this vendor")
    skus = sorted(
        set(
            (
                await session.exec(
                    select(VendorOrderLine.sku).where(
                        VendorOrderLine.vendor_order_id == vendor_order_id
                    )
                )
            ).all()
        )
    )
    held = list(
        await session.exec(
            select(Reservation)
            .where(
                Reservation.order_id == vendor_order.order_id,
                col(Reservation.sku).in_(skus),
                Reservation.status == "held",
            )
            .with_for_update()
        )
    )
    # Read before any rollback: a rollback expires the loaded rows.
    status, target_id = vendor_order.status, target.id
    if status != "awaiting_shipment" or not held:
        await session.rollback()
        raise Problem(ErrorCode.INVALID_STATE, f"vendor order is {status}: nothing to move")
    # Same lock order as every other stock writer: all the SKUs' levels, sorted.
    levels = await execute_sql(
        session,
        text(
            "SELECT sku, warehouse_id, on_hand - reserved AS free FROM stock_level"
            " WHERE sku = ANY(:skus) ORDER BY sku, warehouse_id FOR UPDATE"
        ),
        {"skus": skus},
    )
    free = {(row.sku, row.warehouse_id): row.free for row in levels}
    moving: dict[str, int] = defaultdict(int)
    for reservation in held:
        if reservation.warehouse_id != target.id:
            moving[reservation.sku] += reservation.quantity
    short = [
        {"sku": sku, "requested": units, "available": max(free.get((sku, target.id), 0), 0)}
        for sku, units in sorted(moving.items())
        if free.get((sku, target.id), 0) < units
    ]
    if short:
        await session.rollback()
        raise Problem(
            ErrorCode.INSUFFICIENT_STOCK, f"{target_id} cannot hold this order", items=short
        )
    changes: list[StockChange] = []
    lines: dict[tuple[int, str], int] = defaultdict(int)
    for reservation in sorted(held, key=lambda r: (r.sku, r.warehouse_id)):
        lines[(reservation.line_no, reservation.sku)] += reservation.quantity
        if reservation.warehouse_id != target.id:
            changes.append(
                await change_level(
                    session,
                    reservation.sku,
                    reservation.warehouse_id,
                    reserved_delta=-reservation.quantity,
                    reason=f"rerouted to {target.id}",
                    actor="ops",
                    order_id=vendor_order.order_id,
                )
            )
        await session.delete(reservation)
    await session.flush()
    expires = max(r.expires_at for r in held if r.expires_at is not None) if held else None
    for (line_no, sku), units in sorted(lines.items(), key=lambda item: item[0][1]):
        if moving.get(sku):
            changes.append(
                await change_level(
                    session,
                    sku,
                    target.id,
                    reserved_delta=moving.pop(sku),
                    reason="rerouted here",
                    actor="ops",
                    order_id=vendor_order.order_id,
                )
            )
        session.add(
            Reservation(
                order_id=vendor_order.order_id,
                line_no=line_no,
                sku=sku,
                warehouse_id=target.id,
                quantity=units,
                expires_at=expires,
            )
        )
    for line in await session.exec(
        select(VendorOrderLine).where(VendorOrderLine.vendor_order_id == vendor_order_id)
    ):
        line.warehouse_id = target.id
        session.add(line)
    await session.commit()
    await request.app.state.announcer.announce(changes)
    return await vendor_order_view(session, vendor_order_id)
