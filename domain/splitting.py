"""Splitting a priced order into one sub-order per vendor."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from domain.pricing import PricedLine


@dataclass(frozen=True)
class VendorSplit:
    vendor_id: str
    lines: tuple[PricedLine, ...]
    subtotal_cents: int
    shipping_cents: int

    @property
    def total_cents(self) -> int:
        return self.subtotal_cents + self.shipping_cents


def split_by_vendor(
    lines: Sequence[PricedLine], shipping_by_vendor: Mapping[str, int] | None = None
) -> list[VendorSplit]:
    """One split per vendor, in the order each vendor first appears in ``lines``.

    A split's subtotal is the sum of its line totals; its shipping comes from
    ``shipping_by_vendor`` (0 when absent). Shipping for a vendor with no line, or a negative
    amount, is refused: it would be charged to no one, or paid out of thin air.
    """
    shipping = dict(shipping_by_vendor or {})
    grouped: dict[str, list[PricedLine]] = {}
    for line in lines:
        grouped.setdefault(line.vendor_id, []).append(line)
    strays = sorted(set(shipping) - set(grouped))
    if strays:
        raise ValueError(f"shipping given for vendors with no line: {strays}")
    negative = sorted(vendor for vendor, cents in shipping.items() if cents < 0)
    if negative:
        raise ValueError(f"shipping must not be negative, for vendors {negative}")
    return [
        VendorSplit(
            vendor_id=vendor_id,
            lines=tuple(vendor_lines),
            subtotal_cents=sum(line.line_total_cents for line in vendor_lines),
            shipping_cents=shipping.get(vendor_id, 0),
        )
        for vendor_id, vendor_lines in grouped.items()
    ]


def order_totals(splits: Sequence[VendorSplit]) -> tuple[int, int, int]:
    """``(subtotal_cents, shipping_cents, total_cents)`` of the whole order."""
    subtotal = sum(split.subtotal_cents for split in splits)
    shipping = sum(split.shipping_cents for split in splits)
    return subtotal, shipping, subtotal + shipping
