"""What the simulated storefront, vendors, operators and providers know of the world: the
actors (vendors and their SKUs) and, per order, what the answers they got told them.

The model is a belief, not the truth: answers race (a vendor ships while the buyer cancels),
so steps drawn from it may be refused, which is fine. The invariants read the truth (the API,
PostgreSQL, Stripe, Temporal) at the end.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tests.e2e.client import Seller

FINISHED = frozenset({"completed", "cancelled"})


@dataclass
class Sku:
    sku: str
    vendor: Vendor
    price_cents: int
    initial_on_hand: int
    added: int = 0  # units the vendor put on hand since (adjustments)


@dataclass
class Vendor:
    index: int
    seller: Seller
    skus: list[Sku] = field(default_factory=list)
    restricted: bool = False

    @property
    def name(self) -> str:
        return f"v{self.index}"


@dataclass
class SimReturn:
    id: str
    lines: dict[str, int]
    status: str = "requested"  # requested | refunded | expired
    restock: bool | None = None


@dataclass
class SimVendorOrder:
    id: str
    order: SimOrder
    vendor: Vendor
    lines: dict[str, int]
    subtotal_cents: int
    shipping_cents: int
    status: str = "awaiting_shipment"
    carrier: str | None = None
    tracking_number: str | None = None
    label: bool = False
    # Parcels the carrier (the Shippo emulator) was told are delivered, as (carrier, number):
    # the vendor order's own parcel among them must be delivered without anyone's help.
    delivered_parcels: set[tuple[str, str]] = field(default_factory=set)
    returns: dict[str, SimReturn] = field(default_factory=dict)

    @property
    def carrier_delivered(self) -> bool:
        if self.carrier is None or self.tracking_number is None:
            return False
        return (self.carrier.lower(), self.tracking_number) in self.delivered_parcels

    @property
    def name(self) -> str:
        return f"{self.order.name}.{self.vendor.name}"


@dataclass
class SimDispute:
    id: str
    amount_cents: int
    status: str = "open"  # open | won | lost


@dataclass
class SimOrder:
    index: int
    key: str
    body: dict[str, Any]
    order_id: str
    status: str = "placing"  # placing | confirmed | rejected | unknown | <order status>
    total_cents: int = 0
    payment_intent: str | None = None
    vendor_orders: dict[str, SimVendorOrder] = field(default_factory=dict)
    dispute: SimDispute | None = None
    outside_refunded_cents: int = 0

    @property
    def name(self) -> str:
        return f"o{self.index}"

    @property
    def placed(self) -> bool:
        return bool(self.vendor_orders)


@dataclass(frozen=True)
class Violation:
    rule: str
    detail: str
    order_id: str | None = None

    def __str__(self) -> str:
        where = f" [{self.order_id}]" if self.order_id else ""
        return f"{self.rule}{where}: {self.detail}"


@dataclass
class Counters:
    steps: int = 0
    orders: int = 0  # checkouts answered 201
    rejected: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)
    answers: dict[str, int] = field(default_factory=dict)

    def answered(self, kind: str, status: int) -> None:
        key = f"{kind}:{status}"
        self.answers[key] = self.answers.get(key, 0) + 1
