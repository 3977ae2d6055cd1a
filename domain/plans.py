"""What each vendor's part of a confirmed order is: its ids, the goods and postage charged for
it, the platform's commission and the vendor's payout, the unit prices returns are refunded
at, and its ship SLA. Pure: the saga computes it in the workflow, and a replay computes the
same (workflows/order_plan.py turns it into the messages the saga records)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from domain.commission import commission_cents
from domain.ids import vendor_order_id, vendor_order_workflow_id
from domain.payout import payout_breakdown
from domain.splitting import VendorSplit


@dataclass(frozen=True)
class VendorPlan:
    vendor_order_id: str
    vendor_id: str
    workflow_id: str
    subtotal_cents: int
    shipping_cents: int
    commission_bps: int
    commission_cents: int
    payout_cents: int
    # Per SKU of this vendor's lines: the unit price charged (a return is refunded at it).
    unit_prices: dict[str, int]
    ship_sla_seconds: float | None


class Units(Protocol):
    """Units of a SKU (a reservation's allocation from one warehouse)."""

    @property
    def sku(self) -> str: ...

    @property
    def quantity(self) -> int: ...


def plan_vendor_orders(
    order_id: str,
    splits: Sequence[VendorSplit],
    commission_bps: Mapping[str, int],
    ship_slas: Mapping[str, float | None],
) -> list[VendorPlan]:
    """One plan per vendor split. `commission_bps` is per SKU (the rate of the vendor's
    first line is its order's rate: a vendor has one rate); `ship_slas` is per vendor."""
    plans = []
    for split in splits:
        bps = commission_bps[split.lines[0].sku]
        breakdown = payout_breakdown(
            subtotal_cents=split.subtotal_cents,
            shipping_cents=split.shipping_cents,
            commission_bps=bps,
        )
        plans.append(
            VendorPlan(
                vendor_order_id=vendor_order_id(order_id, split.vendor_id),
                vendor_id=split.vendor_id,
                workflow_id=vendor_order_workflow_id(order_id, split.vendor_id),
                subtotal_cents=split.subtotal_cents,
                shipping_cents=split.shipping_cents,
                commission_bps=bps,
                commission_cents=commission_cents(split.subtotal_cents, bps),
                payout_cents=breakdown.payout_cents,
                unit_prices={line.sku: line.unit_price_cents for line in split.lines},
                ship_sla_seconds=ship_slas.get(split.vendor_id),
            )
        )
    return plans


def units_sold(allocations: Iterable[Units]) -> list[tuple[str, int]]:
    """Units per SKU, summed over the warehouses they come from, by SKU."""
    units: dict[str, int] = {}
    for allocation in allocations:
        units[allocation.sku] = units.get(allocation.sku, 0) + allocation.quantity
    return sorted(units.items())
