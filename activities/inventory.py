"""Stock in PostgreSQL: the catalog the saga prices from, and reservations against stock."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import text
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio import activity

from activities.errors import business_error
from domain.allocation import StockNeed, allocate_stock
from domain.errors import InsufficientStock, InvalidState
from models.catalog import PriceTier, Product
from models.db import execute_sql
from models.messages import (
    Allocation,
    CatalogEntry,
    CatalogRequest,
    CatalogSnapshot,
    OrderRef,
    ReserveRequest,
    ReserveResult,
    VendorOrderRef,
)
from models.stock import Reservation, StockLevel
from models.vendor import Vendor
from models.vendor_order import VendorOrderLine

_LOCK_LEVELS = text(
    "SELECT sku, warehouse_id, on_hand, reserved FROM stock_level "
    "WHERE sku = ANY(:skus) ORDER BY sku, warehouse_id FOR UPDATE"
)


class InventoryActivities:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    @activity.defn(name="inventory.load_catalog")
    async def load_catalog(self, request: CatalogRequest) -> CatalogSnapshot:
        async with self._sessions() as session:
            rows = (
                await session.exec(
                    select(Product, Vendor.commission_bps)
                    .join(Vendor, col(Vendor.id) == col(Product.vendor_id))
                    .where(col(Product.sku).in_(request.skus))
                )
            ).all()
            tiers: dict[str, list[tuple[int, int]]] = defaultdict(list)
            for tier in await session.exec(
                select(PriceTier).where(col(PriceTier.sku).in_(request.skus))
            ):
                tiers[tier.sku].append((tier.min_quantity, tier.price_cents))
        return CatalogSnapshot(
            entries=[
                CatalogEntry(
                    sku=product.sku,
                    vendor_id=product.vendor_id,
                    price_cents=product.price_cents,
                    currency=product.currency,
                    tiers=sorted(tiers[product.sku]),
                    commission_bps=bps,
                )
                for product, bps in rows
            ]
        )

    @activity.defn(name="inventory.reserve")
    async def reserve(self, request: ReserveRequest) -> ReserveResult:
        """Hold every line or none, in one transaction, idempotent per order."""
        async with self._sessions() as session, session.begin():
            existing = (
                await session.exec(
                    select(Reservation).where(Reservation.order_id == request.order_id)
                )
            ).all()
            if existing:
                if any(r.status == "released" for r in existing):
                    raise business_error(InvalidState("this order's stock was already released"))
                return ReserveResult(allocations=[_allocation(r) for r in existing])
            skus = sorted({line.sku for line in request.lines})
            levels = (await execute_sql(session, _LOCK_LEVELS, {"skus": skus})).all()
            available: dict[str, dict[str, int]] = defaultdict(dict)
            for level in levels:
                available[level.sku][level.warehouse_id] = level.on_hand - level.reserved
            needs = [StockNeed(line.line_no, line.sku, line.quantity) for line in request.lines]
            allocated, shortages = allocate_stock(needs, available)
            if shortages:
                raise business_error(
                    InsufficientStock(
                        [
                            {"sku": s.sku, "requested": s.requested, "available": s.available}
                            for s in shortages
                        ]
                    )
                )
            for item in sorted(allocated, key=lambda a: (a.sku, a.warehouse_id)):
                await execute_sql(
                    session,
                    text(
                        "UPDATE stock_level SET reserved = reserved + :qty, updated_at = now() "
                        "WHERE sku = :sku AND warehouse_id = :wh"
                    ),
                    {"qty": item.quantity, "sku": item.sku, "wh": item.warehouse_id},
                )
                session.add(
                    Reservation(
                        order_id=request.order_id,
                        line_no=item.line_no,
                        sku=item.sku,
                        warehouse_id=item.warehouse_id,
                        quantity=item.quantity,
                    )
                )
        return ReserveResult(
            allocations=[
                Allocation(
                    line_no=a.line_no, sku=a.sku, warehouse_id=a.warehouse_id, quantity=a.quantity
                )
                for a in allocated
            ]
        )

    @activity.defn(name="inventory.release")
    async def release(self, request: OrderRef) -> int:
        """Compensation: give back every unit still held for the order. Returns units released."""
        return await self._settle(request.order_id, None, "released")

    @activity.defn(name="inventory.commit_vendor_order")
    async def commit_vendor_order(self, request: VendorOrderRef) -> int:
        """Shipping: the held units leave the shelf (on_hand and reserved both drop)."""
        async with self._sessions() as session:
            skus = (
                await session.exec(
                    select(VendorOrderLine.sku).where(
                        VendorOrderLine.vendor_order_id == request.vendor_order_id
                    )
                )
            ).all()
        return await self._settle(request.order_id, sorted(set(skus)), "committed")

    async def _settle(self, order_id: str, skus: list[str] | None, outcome: str) -> int:
        async with self._sessions() as session, session.begin():
            query = select(Reservation).where(
                Reservation.order_id == order_id, Reservation.status == "held"
            )
            if skus is not None:
                query = query.where(col(Reservation.sku).in_(skus))
            held = (await session.exec(query.with_for_update())).all()
            if not held:
                return 0
            await execute_sql(session, _LOCK_LEVELS, {"skus": sorted({r.sku for r in held})})
            shelf_delta = 1 if outcome == "committed" else 0
            for reservation in sorted(held, key=lambda r: (r.sku, r.warehouse_id)):
                await execute_sql(
                    session,
                    text(
                        "UPDATE stock_level SET reserved = reserved - :qty, "
                        "on_hand = on_hand - :shelf, updated_at = now() "
                        "WHERE sku = :sku AND warehouse_id = :wh"
                    ),
                    {
                        "qty": reservation.quantity,
                        "shelf": reservation.quantity * shelf_delta,
                        "sku": reservation.sku,
                        "wh": reservation.warehouse_id,
                    },
                )
                reservation.status = outcome
                session.add(reservation)
            return sum(r.quantity for r in held)


def _allocation(reservation: Reservation) -> Allocation:
    return Allocation(
        line_no=reservation.line_no,
        sku=reservation.sku,
        warehouse_id=reservation.warehouse_id,
        quantity=reservation.quantity,
    )


__all__ = ["InventoryActivities", "StockLevel"]
