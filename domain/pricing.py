"""Unit prices by quantity tier, and pricing the lines of an order.

A tier is a volume discount: from ``min_quantity`` units of one SKU in one order, every unit
costs ``price_cents``. Tiers apply to the total quantity of a SKU in the order, so a
customer who splits 10 units over two lines pays the same as one who orders 10 at once.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from domain.errors import ValidationFailed

MIN_LINE_QUANTITY = 1
MAX_LINE_QUANTITY = 10_000

_CURRENCY = re.compile(r"[A-Za-z]{3}")


@dataclass(frozen=True)
class PriceTier:
    min_quantity: int
    price_cents: int


@dataclass(frozen=True)
class CatalogItem:
    sku: str
    vendor_id: str
    price_cents: int
    currency: str
    tiers: tuple[PriceTier, ...] = ()


@dataclass(frozen=True)
class RequestedLine:
    sku: str
    quantity: int


@dataclass(frozen=True)
class PricedLine:
    sku: str
    vendor_id: str
    quantity: int
    unit_price_cents: int
    line_total_cents: int


def validate_tiers(price_cents: int, tiers: Sequence[PriceTier]) -> tuple[PriceTier, ...]:
    """The tiers sorted by ``min_quantity``, or ``ValidationFailed`` (field ``price_tiers``).

    A tier starts at 2 units or more (1 unit is the base price), each ``min_quantity``
    appears once, and prices are never negative. A tier is a discount: its price is at most
    the base price, and buying more never makes a unit dearer, so prices are non-increasing
    as ``min_quantity`` grows (equal neighbours are allowed). Without that rule, adding one
    unit to the basket could raise the order total by more than one unit's price.
    """
    if price_cents < 0:
        raise ValidationFailed(
            f"price_cents must not be negative, got {price_cents}", field="price_cents"
        )
    ordered = tuple(sorted(tiers, key=lambda tier: tier.min_quantity))
    previous_price = price_cents
    previous_quantity: int | None = None
    for tier in ordered:
        if tier.min_quantity < 2:
            raise ValidationFailed(
                f"a price tier starts at 2 units or more, got min_quantity {tier.min_quantity}",
                field="price_tiers",
            )
        if tier.min_quantity == previous_quantity:
            raise ValidationFailed(
                f"two price tiers start at min_quantity {tier.min_quantity}",
                field="price_tiers",
            )
        if tier.price_cents < 0:
            raise ValidationFailed(
                f"the tier from {tier.min_quantity} units has a negative price "
                f"({tier.price_cents})",
                field="price_tiers",
            )
        if tier.price_cents > previous_price:
            raise ValidationFailed(
                f"the tier from {tier.min_quantity} units costs {tier.price_cents} cents, more "
                f"than the {previous_price} cents of a smaller quantity: tiers are discounts",
                field="price_tiers",
            )
        previous_price = tier.price_cents
        previous_quantity = tier.min_quantity
    return ordered


def unit_price_cents(item: CatalogItem, quantity: int) -> int:
    """The price of the tier with the highest ``min_quantity`` reached, else the base price."""
    if quantity < MIN_LINE_QUANTITY:
        raise ValidationFailed(
            f"quantity must be at least {MIN_LINE_QUANTITY}, got {quantity}", field="quantity"
        )
    reached = [tier for tier in item.tiers if tier.min_quantity <= quantity]
    if not reached:
        return item.price_cents
    return max(reached, key=lambda tier: tier.min_quantity).price_cents


def merge_lines(lines: Sequence[RequestedLine]) -> list[RequestedLine]:
    """One line per SKU with the quantities summed, in the order each SKU first appears."""
    totals: dict[str, int] = {}
    for line in lines:
        totals[line.sku] = totals.get(line.sku, 0) + line.quantity
    return [RequestedLine(sku=sku, quantity=quantity) for sku, quantity in totals.items()]


def price_lines(
    lines: Sequence[RequestedLine], catalog: Mapping[str, CatalogItem], currency: str
) -> list[PricedLine]:
    """Price an order's lines against the catalog, one priced line per SKU.

    Lines of the same SKU are merged first, so tiers apply to the SKU's total quantity.
    Refused with ``ValidationFailed`` (nothing priced): no lines; a line, or a SKU's merged
    total, outside 1..10,000 units; an order currency that is not three letters; SKUs not in
    the catalog (``extra["skus"]``); products sold in another currency than the order
    (``extra["skus"]``, compared case-insensitively).
    """
    if not lines:
        raise ValidationFailed("an order needs at least one line", field="lines")
    bad_quantities = _unique(
        line.sku for line in lines if not MIN_LINE_QUANTITY <= line.quantity <= MAX_LINE_QUANTITY
    )
    if bad_quantities:
        raise ValidationFailed(
            f"quantity must be between {MIN_LINE_QUANTITY} and {MAX_LINE_QUANTITY}",
            field="lines",
            skus=bad_quantities,
        )
    merged = merge_lines(lines)
    too_many = [line.sku for line in merged if line.quantity > MAX_LINE_QUANTITY]
    if too_many:
        raise ValidationFailed(
            f"at most {MAX_LINE_QUANTITY} units of one SKU per order", field="lines", skus=too_many
        )
    if not _CURRENCY.fullmatch(currency):
        raise ValidationFailed(
            f"currency must be a three-letter ISO 4217 code, got {currency!r}", field="currency"
        )
    unknown = [line.sku for line in merged if line.sku not in catalog]
    if unknown:
        raise ValidationFailed(f"unknown SKU: {', '.join(unknown)}", field="lines", skus=unknown)
    other_currency = [
        line.sku for line in merged if catalog[line.sku].currency.lower() != currency.lower()
    ]
    if other_currency:
        raise ValidationFailed(
            f"not sold in {currency.lower()}: {', '.join(other_currency)}",
            field="currency",
            skus=other_currency,
        )
    priced = []
    for line in merged:
        item = catalog[line.sku]
        unit = unit_price_cents(item, line.quantity)
        priced.append(
            PricedLine(
                sku=line.sku,
                vendor_id=item.vendor_id,
                quantity=line.quantity,
                unit_price_cents=unit,
                line_total_cents=unit * line.quantity,
            )
        )
    return priced


def _unique(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(values))
