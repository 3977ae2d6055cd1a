"""Routing an order's lines to warehouses, and pricing its parcels, with what PostgreSQL knows:
product weights, warehouse sites and each warehouse's measured speed. The choice and the
prices themselves are domain.routing's."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy import text
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.postage import Point
from domain.routing import (
    Allocated,
    Need,
    RoutingWeights,
    Shortage,
    WarehouseStock,
    postage_cents,
    route,
)
from models.messages.checkout import Allocation, ReserveRequest
from models.vendor import Warehouse
from stores.db import execute_sql

# A warehouse's measured speed: average hours from order to shipment of what it shipped.
_SHIP_HOURS = text(
    "SELECT l.warehouse_id,"
    " avg(extract(epoch FROM (v.shipped_at - v.created_at)) / 3600.0) AS hours"
    " FROM vendor_order_line l JOIN vendor_order v ON v.id = l.vendor_order_id"
    " WHERE v.shipped_at IS NOT NULL AND l.warehouse_id = ANY(:ids) GROUP BY l.warehouse_id"
)
_WEIGHTS = text("SELECT sku, weight_grams FROM product WHERE sku = ANY(:skus)")


async def route_lines(
    session: AsyncSession,
    request: ReserveRequest,
    available: dict[str, dict[str, int]],
    weights: RoutingWeights,
) -> tuple[list[Allocated], list[Shortage]]:
    """Each vendor's lines to the warehouses that serve them best (domain.routing), from the
    units `available` per SKU and warehouse."""
    grams = await _weights(session, sorted({line.sku for line in request.lines}))
    warehouse_ids = sorted({wh for levels in available.values() for wh in levels})
    sites = await _sites(session, warehouse_ids)
    measured = await execute_sql(session, _SHIP_HOURS, {"ids": warehouse_ids})
    speed: dict[str, float] = {row.warehouse_id: float(row.hours) for row in measured}
    destination = _destination(request)
    by_vendor: dict[str, list[Need]] = defaultdict(list)
    for line in request.lines:
        by_vendor[line.vendor_id].append(
            Need(line.line_no, line.sku, line.quantity, grams.get(line.sku, 0))
        )
    allocated: list[Allocated] = []
    shortages: list[Shortage] = []
    for vendor_id in sorted(by_vendor):
        needs = by_vendor[vendor_id]
        stock = [
            WarehouseStock(
                warehouse_id=wh,
                location=Point(sites[wh].latitude, sites[wh].longitude),
                available={
                    sku: max(levels.get(wh, 0), 0)
                    for sku, levels in available.items()
                    if any(need.sku == sku for need in needs)
                },
                ship_hours=speed.get(wh),
            )
            for wh in warehouse_ids
            if sites[wh].vendor_id == vendor_id
        ]
        # Without an address every warehouse is as near: stock and speed decide.
        here = destination or (stock[0].location if stock else Point(0.0, 0.0))
        got, short = route(needs, stock, here, weights)
        allocated += got
        shortages += short
    return allocated, shortages


async def postage(
    session: AsyncSession, request: ReserveRequest, allocations: list[Allocation]
) -> dict[str, int]:
    """Each vendor's estimated postage for the parcels its allocations make."""
    grams = await _weights(session, sorted({a.sku for a in allocations}))
    sites = await _sites(session, sorted({a.warehouse_id for a in allocations}))
    vendor_of = {line.line_no: line.vendor_id for line in request.lines}
    by_vendor: dict[str, list[Allocated]] = defaultdict(list)
    for a in allocations:
        by_vendor[vendor_of[a.line_no]].append(
            Allocated(a.line_no, a.sku, a.warehouse_id, a.quantity)
        )
    origins = {wh: Point(site.latitude, site.longitude) for wh, site in sites.items()}
    destination = _destination(request)
    return {
        vendor: postage_cents(parcels, grams, origins, destination)
        for vendor, parcels in sorted(by_vendor.items())
    }


async def _weights(session: AsyncSession, skus: list[str]) -> dict[str, int]:
    products = await execute_sql(session, _WEIGHTS, {"skus": skus})
    return {row.sku: int(row.weight_grams) for row in products}


async def _sites(session: AsyncSession, warehouse_ids: Sequence[str]) -> dict[str, Warehouse]:
    found = await session.exec(select(Warehouse).where(col(Warehouse.id).in_(warehouse_ids)))
    return {row.id: row for row in found}


def _destination(request: ReserveRequest) -> Point | None:
    if request.latitude is None or request.longitude is None:
        return None
    return Point(request.latitude, request.longitude)
