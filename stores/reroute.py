"""Moving an unshipped vendor order's held stock to another warehouse of its vendor, in one
transaction or not at all: by an operator (api/routers/ops_reroute.py), or when the supplier
rejects the order and its routing rule says to try another warehouse (issue 13,
activities/supplier.py)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from sqlalchemy import text
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.errors import InsufficientStock, InvalidState, NotFound
from models.stock import Reservation
from models.vendor import Warehouse
from models.vendor_order import VendorOrder, VendorOrderLine
from stores.db import execute_sql
from stores.stock_changes import StockChange, change_level


async def _held(session: AsyncSession, vendor_order: VendorOrder) -> list[Reservation]:
    skus = sorted(
        set(
            (
                await session.exec(
                    select(VendorOrderLine.sku).where(
                        VendorOrderLine.vendor_order_id == vendor_order.id
                    )
                )
            ).all()
        )
    )
    return list(
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


async def _free(session: AsyncSession, skus: Iterable[str]) -> dict[tuple[str, str], int]:
    # Same lock order as every other stock writer: all the SKUs' levels, sorted.
    levels = await execute_sql(
        session,
        text(
            "SELECT sku, warehouse_id, on_hand - reserved AS free FROM stock_level"
            " WHERE sku = ANY(:skus) ORDER BY sku, warehouse_id FOR UPDATE"
        ),
        {"skus": sorted(set(skus))},
    )
    return {(row.sku, row.warehouse_id): row.free for row in levels}


def _moving(held: list[Reservation], target_id: str) -> dict[str, int]:
    moving: dict[str, int] = defaultdict(int)
    for reservation in held:
        if reservation.warehouse_id != target_id:
            moving[reservation.sku] += reservation.quantity
    return dict(moving)


async def other_warehouse(session: AsyncSession, vendor_order: VendorOrder) -> str | None:
    """A warehouse of the vendor, other than those holding the order now, with free stock
    for all of it (the one with the most to spare, then by id); None if there is none."""
    held = await _held(session, vendor_order)
    holding = {r.warehouse_id for r in held}
    needed: dict[str, int] = defaultdict(int)
    for reservation in held:
        needed[reservation.sku] += reservation.quantity
    candidates = [
        w.id
        for w in await session.exec(
            select(Warehouse).where(Warehouse.vendor_id == vendor_order.vendor_id)
        )
        if w.id not in holding
    ]
    if not needed or not candidates:
        return None
    free = await _free(session, needed)
    fitting = [
        (min(free.get((sku, w), 0) - units for sku, units in needed.items()), w)
        for w in candidates
        if all(free.get((sku, w), 0) >= units for sku, units in needed.items())
    ]
    return min(fitting, key=lambda fit: (-fit[0], fit[1]))[1] if fitting else None


async def move_held_stock(
    session: AsyncSession, vendor_order: VendorOrder, target_id: str, actor: str
) -> list[StockChange]:
    """Move what the vendor order holds to `target_id` and point its lines there; the caller
    holds the vendor order's row lock and commits. Refused (NotFound, InvalidState,
    InsufficientStock) before anything is written: the caller rolls back (the whole request,
    or the savepoint it opened)."""
    target = await session.get(Warehouse, target_id)
    if target is None or target.vendor_id != vendor_order.vendor_id:
        raise NotFound("no such warehouse of this vendor")
    held = await _held(session, vendor_order)
    status, order_id, vendor_order_id = vendor_order.status, vendor_order.order_id, vendor_order.id
    if status != "awaiting_shipment" or not held:
        raise InvalidState(f"vendor order is {status}: nothing to move")
    free = await _free(session, (r.sku for r in held))
    moving = _moving(held, target_id)
    short = [
        {"sku": sku, "requested": units, "available": max(free.get((sku, target_id), 0), 0)}
        for sku, units in sorted(moving.items())
        if free.get((sku, target_id), 0) < units
    ]
    if short:
        raise InsufficientStock(short, f"{target_id} cannot hold this order")
    changes: list[StockChange] = []
    lines: dict[tuple[int, str], int] = defaultdict(int)
    for reservation in sorted(held, key=lambda r: (r.sku, r.warehouse_id)):
        lines[(reservation.line_no, reservation.sku)] += reservation.quantity
        if reservation.warehouse_id != target_id:
            changes.append(
                await change_level(
                    session,
                    reservation.sku,
                    reservation.warehouse_id,
                    reserved_delta=-reservation.quantity,
                    reason=f"rerouted to {target_id}",
                    actor=actor,
                    order_id=order_id,
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
                    target_id,
                    reserved_delta=moving.pop(sku),
                    reason="rerouted here",
                    actor=actor,
                    order_id=order_id,
                )
            )
        session.add(
            Reservation(
                order_id=order_id,
                line_no=line_no,
                sku=sku,
                warehouse_id=target_id,
                quantity=units,
                expires_at=expires,
            )
        )
    for line in await session.exec(
        select(VendorOrderLine).where(VendorOrderLine.vendor_order_id == vendor_order_id)
    ):
        line.warehouse_id = target_id
        session.add(line)
    return changes
