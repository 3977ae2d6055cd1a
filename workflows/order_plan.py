"""From a checkout to what the saga records: each line priced at its quantity's tier, one plan
per vendor (its lines and warehouses, payout and commission, ship SLA), and the units each
vendor order sold. Pure functions of the saga's inputs, so a replay computes the same."""

from __future__ import annotations

from domain.commission import commission_cents
from domain.ids import vendor_order_id, vendor_order_workflow_id
from domain.payout import payout_breakdown
from domain.pricing import CatalogItem, PricedLine, PriceTier, RequestedLine, price_lines
from domain.splitting import VendorSplit
from models.messages.checkout import Allocation, CatalogSnapshot, OrderInput, VendorOrderPlan
from models.messages.vendor_order import SoldLine


def priced_lines(order: OrderInput, snapshot: CatalogSnapshot) -> list[PricedLine]:
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
) -> list[VendorOrderPlan]:
    plans = []
    for split in splits:
        skus = {line.sku for line in split.lines}
        bps = commission_bps[split.lines[0].sku]
        breakdown = payout_breakdown(
            subtotal_cents=split.subtotal_cents,
            shipping_cents=split.shipping_cents,
            commission_bps=bps,
        )
        plans.append(
            VendorOrderPlan(
                vendor_order_id=vendor_order_id(order_id, split.vendor_id),
                vendor_id=split.vendor_id,
                workflow_id=vendor_order_workflow_id(order_id, split.vendor_id),
                subtotal_cents=split.subtotal_cents,
                shipping_cents=split.shipping_cents,
                commission_bps=bps,
                commission_cents=commission_cents(split.subtotal_cents, bps),
                payout_cents=breakdown.payout_cents,
                lines=[a for a in allocations if a.sku in skus],
                unit_prices={line.sku: line.unit_price_cents for line in split.lines},
                ship_sla_seconds=ship_slas.get(split.vendor_id),
            )
        )
    return plans


def sold_lines(plan: VendorOrderPlan) -> list[SoldLine]:
    units: dict[str, int] = {}
    for allocation in plan.lines:
        units[allocation.sku] = units.get(allocation.sku, 0) + allocation.quantity
    return [
        SoldLine(sku=sku, quantity=count, unit_price_cents=plan.unit_prices[sku])
        for sku, count in sorted(units.items())
    ]
