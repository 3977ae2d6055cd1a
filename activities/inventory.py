"""Stock in PostgreSQL: the catalog the saga prices from, and reservations against stock.

Every change goes through stores.stock_changes (audited, versioned), and is announced after
commit (the Redis admission gate, low-stock alerts). Holding and settling reservations is
stores.reservations (the reaper settles expired ones with it too); choosing warehouses and
pricing the parcels is stores.routing.
"""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import text
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio import activity

from activities.errors import business_error
from domain.errors import InsufficientStock, InvalidState
from domain.routing import RoutingWeights
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
from models.messages.vendor_order import AckPolicy, RenewRequest, VendorOrderRef
from models.returns import OrderReturn
from models.stock import Reservation
from models.vendor import Vendor
from models.vendor_order import VendorOrderLine
from stores.db import execute_sql
from stores.reservations import Reservations, hold, lock_levels
from stores.routing import postage, route_lines
from stores.stock_changes import StockAnnouncer, StockChange, change_level
from temporal.names import Activity


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
        self._reservations = Reservations(sessions, announcer)

    @activity.defn(name=Activity.LOAD_CATALOG)
    async def load_catalog(self, request: CatalogRequest) -> CatalogSnapshot:
        async with self._sessions() as session:
            rows = (
                await session.exec(
                    select(Product, Vendor)
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
                    commission_bps=vendor.commission_bps,
                    ship_sla_seconds=float(vendor.ship_sla_seconds),
                    notifies=vendor.webhook_url is not None,
                    vendor_name=vendor.name,
                    vendor_status=vendor.status,
                    ack=(
                        None
                        if vendor.ack_sla_seconds is None
                        else AckPolicy(
                            sla_seconds=float(vendor.ack_sla_seconds), on_reject=vendor.on_reject
                        )
                    ),
                )
                for product, vendor in rows
            ]
        )

    @activity.defn(name=Activity.RESERVE)
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
                allocations = [_allocation(r) for r in existing]
                return ReserveResult(
                    allocations=allocations,
                    shipping_cents=await postage(session, request, allocations),
                )
            levels = await lock_levels(session, sorted({line.sku for line in request.lines}))
            available: dict[str, dict[str, int]] = defaultdict(dict)
            for level in levels:
                available[level.sku][level.warehouse_id] = level.on_hand - level.reserved
            allocated, shortages = await route_lines(session, request, available, self._weights)
            if shortages:
                raise business_error(
                    InsufficientStock(
                        [
                            {"sku": s.sku, "requested": s.requested, "available": s.available}
                            for s in shortages
                        ]
                    )
                )
            changes = await hold(session, request.order_id, allocated, request.hold_seconds)
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
            shipping = await postage(session, request, allocations)
        return ReserveResult(allocations=allocations, shipping_cents=shipping)

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
        return await self._reservations.settle(request.order_id, None, "released", "order refused")

    @activity.defn(name=Activity.RELEASE_VENDOR_ORDER)
    async def release_vendor_order(self, request: VendorOrderRef) -> int:
        """A cancelled vendor order: its held units go back on sale. Returns units released."""
        skus = await self._skus_of(request.vendor_order_id)
        return await self._reservations.settle(
            request.order_id, skus, "released", "vendor order cancelled"
        )

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
            await lock_levels(session, skus)
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
        committed = await self._reservations.settle(request.order_id, skus, "committed", "shipped")
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


def _allocation(reservation: Reservation) -> Allocation:
    return Allocation(
        line_no=reservation.line_no,
        sku=reservation.sku,
        warehouse_id=reservation.warehouse_id,
        quantity=reservation.quantity,
    )
