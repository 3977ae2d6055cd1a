"""Stock in PostgreSQL: the catalog the saga prices from, and reservations against stock.

Every change goes through stores.stock_changes (audited, versioned), and is announced after
commit (the Redis admission gate, low-stock alerts). Reservations expire unless their
workflow renews them, so a workflow terminated by hand never keeps stock: the reaper
(`release_expired`, run by the worker) gives it back.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio import activity

from activities.errors import business_error
from domain.errors import InsufficientStock, InvalidState
from domain.routing import (
    Allocated,
    Need,
    Point,
    RoutingWeights,
    Shortage,
    WarehouseStock,
    postage_cents,
    route,
)
from models.base import utcnow
from models.catalog import PriceTier, Product
from models.messages.checkout import (
    Allocation,
    CatalogEntry,
    CatalogRequest,
    CatalogSnapshot,
    OrderRef,
    ReserveRequest,
    ReserveResult,
)
from models.messages.returns import RestockRequest
from models.messages.vendor_order import RenewRequest, VendorOrderRef
from models.returns import OrderReturn
from models.stock import Reservation
from models.vendor import Vendor, Warehouse
from models.vendor_order import VendorOrderLine
from stores.db import execute_sql
from stores.stock_changes import StockAnnouncer, StockChange, change_level
from temporal.names import Activity

# A warehouse's measured speed: average hours from order to shipment of what it shipped.
_SHIP_HOURS = text(
    "SELECT l.warehouse_id,"
    " avg(extract(epoch FROM (v.shipped_at - v.created_at)) / 3600.0) AS hours"
    " FROM vendor_order_line l JOIN vendor_order v ON v.id = l.vendor_order_id"
    " WHERE v.shipped_at IS NOT NULL AND l.warehouse_id = ANY(:ids) GROUP BY l.warehouse_id"
)

_LOCK_LEVELS = text(
    "SELECT sku, warehouse_id, on_hand, reserved FROM stock_level "
    "WHERE sku = ANY(:skus) ORDER BY sku, warehouse_id FOR UPDATE"
)


class InventoryActivities:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        announcer: StockAnnouncer,
        weights: RoutingWeights = RoutingWeights(),
    ) -> None:
        self._sessions = sessions
        self._announcer = announcer
        self._weights = weights

    async def _route(
        self,
        session: AsyncSession,
        request: ReserveRequest,
        available: dict[str, dict[str, int]],
    ) -> tuple[list[Allocated], list[Shortage]]:
        """Each vendor's lines to the warehouses that serve them best (domain.routing)."""
        skus = sorted({line.sku for line in request.lines})
        products = await execute_sql(
            session,
            text("SELECT sku, weight_grams FROM product WHERE sku = ANY(:skus)"),
            {"skus": skus},
        )
        weights: dict[str, int] = {row.sku: int(row.weight_grams) for row in products}
        warehouse_ids = sorted({wh for levels in available.values() for wh in levels})
        sites = {
            row.id: row
            for row in await session.exec(
                select(Warehouse).where(col(Warehouse.id).in_(warehouse_ids))
            )
        }
        measured = await execute_sql(session, _SHIP_HOURS, {"ids": warehouse_ids})
        speed: dict[str, float] = {row.warehouse_id: float(row.hours) for row in measured}
        destination = (
            Point(request.latitude, request.longitude)
            if request.latitude is not None and request.longitude is not None
            else None
        )
        by_vendor: dict[str, list[Need]] = defaultdict(list)
        for line in request.lines:
            by_vendor[line.vendor_id].append(
                Need(line.line_no, line.sku, line.quantity, weights.get(line.sku, 0))
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
            got, short = route(needs, stock, here, self._weights)
            allocated += got
            shortages += short
        return allocated, shortages

    @activity.defn(name=Activity.LOAD_CATALOG)
    async def load_catalog(self, request: CatalogRequest) -> CatalogSnapshot:
        async with self._sessions() as session:
            rows = (
                await session.exec(
                    select(
                        Product, Vendor.commission_bps, Vendor.ship_sla_seconds, Vendor.webhook_url
                    )
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
                    ship_sla_seconds=float(sla),
                    notifies=webhook_url is not None,
                )
                for product, bps, sla, webhook_url in rows
            ]
        )

    @activity.defn(name=Activity.RESERVE)
    async def reserve(self, request: ReserveRequest) -> ReserveResult:
        """Hold every line or none, in one transaction, idempotent per order."""
        changes: list[StockChange] = []
        async with self._sessions() as session, session.begin():
            existing = (
                await session.exec(
                    select(Reservation).where(Reservation.order_id == request.order_id)
                )
            ).all()
            if existing:
                if any(r.status == "released" for r in existing):
                    raise business_error(InvalidState("this order's stock was already released"))
                allocations = [_allocation(r) for r in existing]
                return ReserveResult(
                    allocations=allocations,
                    shipping_cents=await self._postage(session, request, allocations),
                )
            skus = sorted({line.sku for line in request.lines})
            levels = (await execute_sql(session, _LOCK_LEVELS, {"skus": skus})).all()
            available: dict[str, dict[str, int]] = defaultdict(dict)
            for level in levels:
                available[level.sku][level.warehouse_id] = level.on_hand - level.reserved
            allocated, shortages = await self._route(session, request, available)
            if shortages:
                raise business_error(
                    InsufficientStock(
                        [
                            {"sku": s.sku, "requested": s.requested, "available": s.available}
                            for s in shortages
                        ]
                    )
                )
            expires = utcnow() + timedelta(seconds=request.hold_seconds)
            for item in sorted(allocated, key=lambda a: (a.sku, a.warehouse_id)):
                changes.append(
                    await change_level(
                        session,
                        item.sku,
                        item.warehouse_id,
                        reserved_delta=item.quantity,
                        reason="reserved for an order",
                        actor=f"order:{request.order_id}",
                        order_id=request.order_id,
                    )
                )
                session.add(
                    Reservation(
                        order_id=request.order_id,
                        line_no=item.line_no,
                        sku=item.sku,
                        warehouse_id=item.warehouse_id,
                        quantity=item.quantity,
                        expires_at=expires,
                    )
                )
        # The gate's checkout hold for this order ends here, not when the saga answers:
        # otherwise buyers arriving meanwhile are refused while units remain.
        await self._announcer.announce(changes, settled_order=request.order_id)
        allocations = [
            Allocation(
                line_no=a.line_no, sku=a.sku, warehouse_id=a.warehouse_id, quantity=a.quantity
            )
            for a in allocated
        ]
        async with self._sessions() as session:
            shipping = await self._postage(session, request, allocations)
        return ReserveResult(allocations=allocations, shipping_cents=shipping)

    async def _postage(
        self, session: AsyncSession, request: ReserveRequest, allocations: list[Allocation]
    ) -> dict[str, int]:
        """Each vendor's estimated postage for the parcels its allocations make."""
        skus = sorted({a.sku for a in allocations})
        products = await execute_sql(
            session,
            text("SELECT sku, weight_grams FROM product WHERE sku = ANY(:skus)"),
            {"skus": skus},
        )
        weights = {row.sku: int(row.weight_grams) for row in products}
        sites = {
            row.id: row
            for row in await session.exec(
                select(Warehouse).where(
                    col(Warehouse.id).in_(sorted({a.warehouse_id for a in allocations}))
                )
            )
        }
        destination = (
            Point(request.latitude, request.longitude)
            if request.latitude is not None and request.longitude is not None
            else None
        )
        vendor_of = {line.line_no: line.vendor_id for line in request.lines}
        by_vendor: dict[str, list[Allocated]] = defaultdict(list)
        for a in allocations:
            by_vendor[vendor_of[a.line_no]].append(
                Allocated(a.line_no, a.sku, a.warehouse_id, a.quantity)
            )
        origins = {wh: Point(site.latitude, site.longitude) for wh, site in sites.items()}
        return {
            vendor: postage_cents(parcels, weights, origins, destination)
            for vendor, parcels in sorted(by_vendor.items())
        }

    @activity.defn(name=Activity.RENEW_HOLD)
    async def renew(self, request: RenewRequest) -> int:
        """The workflow still owns its stock: push the reservations' expiry out."""
        async with self._sessions() as session, session.begin():
            result = await execute_sql(
                session,
                text(
                    "UPDATE reservation SET expires_at = now() + make_interval(secs => :secs)"
                    " WHERE order_id = :order AND status = 'held' AND sku IN"
                    " (SELECT sku FROM vendor_order_line WHERE vendor_order_id = :vo)"
                    " RETURNING id"
                ),
                {
                    "secs": request.hold_seconds,
                    "order": request.order_id,
                    "vo": request.vendor_order_id,
                },
            )
            return len(result.all())

    @activity.defn(name=Activity.RELEASE)
    async def release(self, request: OrderRef) -> int:
        """Compensation: give back every unit still held for the order. Returns units released."""
        return await self._settle(request.order_id, None, "released", "order refused")

    @activity.defn(name=Activity.RELEASE_VENDOR_ORDER)
    async def release_vendor_order(self, request: VendorOrderRef) -> int:
        """A cancelled vendor order: its held units go back on sale. Returns units released."""
        skus = await self._skus_of(request.vendor_order_id)
        return await self._settle(request.order_id, skus, "released", "vendor order cancelled")

    @activity.defn(name=Activity.RESTOCK_RETURN)
    async def restock_return(self, request: RestockRequest) -> int:
        """Received returned units go back on the shelf of the warehouse they left from; once
        per return, however often retried. Returns units restocked."""
        changes: list[StockChange] = []
        async with self._sessions() as session, session.begin():
            returned = await session.get(OrderReturn, request.return_id, with_for_update=True)
            if returned is None or returned.restocked:
                return 0
            origins = await session.exec(
                select(VendorOrderLine).where(
                    VendorOrderLine.vendor_order_id == request.vendor_order_id
                )
            )
            warehouse_of = {line.sku: line.warehouse_id for line in origins}
            lines = sorted(request.lines, key=lambda line: (line.sku, warehouse_of[line.sku]))
            skus = sorted({line.sku for line in lines})
            await execute_sql(session, _LOCK_LEVELS, {"skus": skus})
            for line in lines:
                warehouse = warehouse_of[line.sku]
                assert warehouse is not None
                changes.append(
                    await change_level(
                        session,
                        line.sku,
                        warehouse,
                        on_hand_delta=line.quantity,
                        reason=f"return {request.return_id} received",
                        actor=f"order:{request.order_id}",
                        order_id=request.order_id,
                    )
                )
            returned.restocked = True
            returned.updated_at = utcnow()
            session.add(returned)
        await self._announcer.announce(changes)
        return sum(line.quantity for line in request.lines)

    async def _skus_of(self, vendor_order_id: str) -> list[str]:
        async with self._sessions() as session:
            found = await session.exec(
                select(VendorOrderLine.sku).where(
                    VendorOrderLine.vendor_order_id == vendor_order_id
                )
            )
            return sorted(set(found.all()))

    @activity.defn(name=Activity.COMMIT_VENDOR_ORDER)
    async def commit_vendor_order(self, request: VendorOrderRef) -> int:
        """Shipping: the held units leave the shelf (on_hand and reserved both drop)."""
        async with self._sessions() as session:
            skus = sorted(
                set(
                    (
                        await session.exec(
                            select(VendorOrderLine.sku).where(
                                VendorOrderLine.vendor_order_id == request.vendor_order_id
                            )
                        )
                    ).all()
                )
            )
            outcomes = set(
                (
                    await session.exec(
                        select(Reservation.status).where(
                            Reservation.order_id == request.order_id,
                            col(Reservation.sku).in_(skus),
                        )
                    )
                ).all()
            )
        committed = await self._settle(request.order_id, skus, "committed", "shipped")
        if committed > 0 or "committed" in outcomes:
            # Shipped now, or by an earlier try of this activity (a reroute leaves released
            # reservations beside the committed ones).
            return committed
        if "expired" in outcomes:
            # Its workflow stopped renewing for longer than the hold: the reaper gave the
            # stock back, and it may be sold since. An operator must decide.
            raise business_error(
                InvalidState("the stock held for this order expired; restock or cancel it")
            )
        # Nothing held (released by a cancellation, or never reserved): shipping would take
        # nothing off the shelf, so it is refused, never a silent zero.
        raise business_error(
            InvalidState(
                "no stock is held for this vendor order; it cannot ship",
                reservations=sorted(outcomes),
            )
        )

    async def release_expired(self, limit: int = 500) -> int:
        """The reaper: release reservations whose workflow stopped renewing them."""
        async with self._sessions() as session:
            orders = (
                await execute_sql(
                    session,
                    text(
                        "SELECT DISTINCT order_id FROM reservation WHERE status = 'held'"
                        " AND expires_at < now() LIMIT :limit"
                    ),
                    {"limit": limit},
                )
            ).all()
        units = 0
        for row in orders:
            units += await self._settle(
                str(row.order_id), None, "expired", "reservation expired", expired_only=True
            )
        return units

    async def _settle(
        self,
        order_id: str,
        skus: Sequence[str] | None,
        outcome: str,
        reason: str,
        *,
        expired_only: bool = False,
    ) -> int:
        changes: list[StockChange] = []
        async with self._sessions() as session, session.begin():
            query = select(Reservation).where(
                Reservation.order_id == order_id, Reservation.status == "held"
            )
            if skus is not None:
                query = query.where(col(Reservation.sku).in_(list(skus)))
            if expired_only:
                query = query.where(col(Reservation.expires_at) < utcnow())
            held = (await session.exec(query.with_for_update(skip_locked=expired_only))).all()
            if not held:
                return 0
            await execute_sql(session, _LOCK_LEVELS, {"skus": sorted({r.sku for r in held})})
            shelf = -1 if outcome == "committed" else 0
            for reservation in sorted(held, key=lambda r: (r.sku, r.warehouse_id)):
                changes.append(
                    await change_level(
                        session,
                        reservation.sku,
                        reservation.warehouse_id,
                        on_hand_delta=shelf * reservation.quantity,
                        reserved_delta=-reservation.quantity,
                        reason=reason,
                        actor="reaper" if expired_only else f"order:{order_id}",
                        order_id=order_id,
                    )
                )
                reservation.status = outcome
                session.add(reservation)
            units = sum(r.quantity for r in held)
        await self._announcer.announce(changes)
        return units


def _allocation(reservation: Reservation) -> Allocation:
    return Allocation(
        line_no=reservation.line_no,
        sku=reservation.sku,
        warehouse_id=reservation.warehouse_id,
        quantity=reservation.quantity,
    )
