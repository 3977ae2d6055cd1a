"""The saga's messages for what domain/ decides: the catalog snapshot read as domain catalog
items to price the lines (domain/pricing.py), each vendor's plan (domain/plans.py) with the
allocations of its SKUs, and the units a vendor order sold. Pure translations, so a replay
computes the same."""

from __future__ import annotations

from dataclasses import asdict

from domain.plans import plan_vendor_orders, units_sold
from domain.pricing import CatalogItem, PricedLine, PriceTier, RequestedLine, price_lines
from domain.splitting import VendorSplit
from domain.vendor_status import ensure_sellable
from models.messages.checkout import Allocation, CatalogSnapshot, OrderInput, VendorOrderPlan
from models.messages.vendor_order import AckPolicy, SoldLine


def priced_lines(order: OrderInput, snapshot: CatalogSnapshot) -> list[PricedLine]:
    """The lines priced, or a DomainError the saga refuses the order with: a vendor not
    active (suspended since the API's check: VendorUnavailable), a line it cannot price."""
    ensure_sellable(
        (entry.sku, entry.vendor_id, entry.vendor_status)
        for entry in snapshot.entries
        if any(line.sku == entry.sku for line in order.lines)
    )
    catalog = {
        entry.sku: CatalogItem(
            sku=entry.sku,
            vendor_id=entry.vendor_id,
            price_cents=entry.price_cents,
            currency=entry.currency,
            tiers=tuple(PriceTier(q, p) for q, p in entry.tiers),
        )
        for entry in snapshot.entries
    }
    requested = [RequestedLine(line.sku, line.quantity) for line in order.lines]
    return price_lines(requested, catalog, order.currency)


def vendor_order_plans(
    order_id: str,
    splits: list[VendorSplit],
    allocations: list[Allocation],
    commission_bps: dict[str, int],
    ship_slas: dict[str, float | None],
    acks: dict[str, AckPolicy | None] | None = None,
) -> list[VendorOrderPlan]:
    return [
        VendorOrderPlan(
            **asdict(plan),
            lines=[a for a in allocations if a.sku in plan.unit_prices],
            ack=(acks or {}).get(plan.vendor_id),
        )
        for plan in plan_vendor_orders(order_id, splits, commission_bps, ship_slas)
    ]


def sold_lines(plan: VendorOrderPlan) -> list[SoldLine]:
    return [
        SoldLine(sku=sku, quantity=count, unit_price_cents=plan.unit_prices[sku])
        for sku, count in units_sold(plan.lines)
    ]
