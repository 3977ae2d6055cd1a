"""What a vendor is paid for a sub-order, and what a partial return refunds.

Every cent charged for a vendor order ends up in exactly one place:

    charged (subtotal + shipping) = refunded + payout + commission + label_cost

Commission is taken only on the goods the customer kept, so a refund returns the platform's
share of those goods too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from domain.errors import ValidationFailed
from domain.money import commission_cents as _commission_cents
from domain.money import ensure_commission_bps
from domain.pricing import PricedLine


@dataclass(frozen=True)
class PayoutBreakdown:
    subtotal_cents: int
    shipping_cents: int
    refunded_cents: int
    refunded_goods_cents: int
    commission_cents: int
    label_cost_cents: int
    payout_cents: int

    @property
    def charged_cents(self) -> int:
        return self.subtotal_cents + self.shipping_cents


def payout_breakdown(
    *,
    subtotal_cents: int,
    shipping_cents: int,
    commission_bps: int,
    refunded_goods_cents: int = 0,
    refunded_shipping_cents: int = 0,
    label_cost_cents: int = 0,
) -> PayoutBreakdown:
    """The money of one vendor order, such that ``charged = refunded + payout + commission +
    label_cost`` holds to the cent (``charged = subtotal + shipping``).

    - ``commission`` is ``commission_bps`` of the goods not refunded
      (``subtotal - refunded_goods``), rounded half up to the cent;
    - ``refunded = refunded_goods + refunded_shipping``;
    - ``payout = subtotal + shipping - refunded - commission - label_cost``.

    The payout is never negative. Commission never exceeds the goods kept, so only a label
    can cost more than what is left; the vendor is then paid 0 and ``label_cost_cents`` in
    the breakdown is the part of the label recovered from this order (what is left), the
    platform absorbing the rest. That keeps the identity true for the reported amounts.

    Refunding more goods or shipping than was charged, or any negative amount, is refused
    with ``ValidationFailed``.
    """
    amounts = {
        "subtotal_cents": subtotal_cents,
        "shipping_cents": shipping_cents,
        "refunded_goods_cents": refunded_goods_cents,
        "refunded_shipping_cents": refunded_shipping_cents,
        "label_cost_cents": label_cost_cents,
    }
    for field, value in amounts.items():
        if value < 0:
            raise ValidationFailed(f"{field} must not be negative, got {value}", field=field)
    ensure_commission_bps(commission_bps)
    if refunded_goods_cents > subtotal_cents:
        raise ValidationFailed(
            f"refunded goods ({refunded_goods_cents}) exceed the goods charged ({subtotal_cents})",
            field="refunded_goods_cents",
        )
    if refunded_shipping_cents > shipping_cents:
        raise ValidationFailed(
            f"refunded shipping ({refunded_shipping_cents}) exceeds the shipping charged "
            f"({shipping_cents})",
            field="refunded_shipping_cents",
        )
    refunded = refunded_goods_cents + refunded_shipping_cents
    commission = _commission_cents(subtotal_cents - refunded_goods_cents, commission_bps)
    left = subtotal_cents + shipping_cents - refunded - commission
    label_recovered = label_recovered_cents(label_cost_cents, left)
    return PayoutBreakdown(
        subtotal_cents=subtotal_cents,
        shipping_cents=shipping_cents,
        refunded_cents=refunded,
        refunded_goods_cents=refunded_goods_cents,
        commission_cents=commission,
        label_cost_cents=label_recovered,
        payout_cents=left - label_recovered,
    )


def label_recovered_cents(label_cost_cents: int, left_cents: int) -> int:
    """The part of a label's cost taken from the vendor's payout: all of it, or what the payout
    had left after refunds and commission (the platform bears the rest)."""
    return min(label_cost_cents, max(left_cents, 0))


def _refunded_after(line: PricedLine, units: int) -> int:
    # Cumulative refund of the first `units` units: floor of the exact share, and exactly the
    # line total once every unit is back. Differences of this sequence never lose a cent.
    if units == line.quantity:
        return line.line_total_cents
    return units * line.line_total_cents // line.quantity


def refund_of_units_after(line: PricedLine, already_refunded_units: int, units: int) -> int:
    """The refund for ``units`` more units of ``line`` after ``already_refunded_units``.

    Rule: after ``k`` units in total have been refunded, the customer has got back
    ``k * line_total // quantity`` (the exact share, rounded down), and all of ``line_total``
    once ``k == quantity``: the last unit takes the remainder. Each refund is the difference
    of that running total, so refunding units one at a time, in any grouping, sums to the same
    amount as refunding them all at once, and never to more than the line total.
    """
    if already_refunded_units < 0 or units < 0:
        raise ValidationFailed(
            f"units to refund must not be negative (already {already_refunded_units}, now {units})",
            field="quantity",
            sku=line.sku,
        )
    refundable = line.quantity - already_refunded_units
    if units > refundable:
        raise ValidationFailed(
            f"cannot refund {units} units of {line.sku}: {max(refundable, 0)} of "
            f"{line.quantity} are left to refund",
            field="quantity",
            sku=line.sku,
            requested=units,
            refundable=max(refundable, 0),
        )
    return _refunded_after(line, already_refunded_units + units) - _refunded_after(
        line, already_refunded_units
    )


def refund_of_units(line: PricedLine, units: int) -> int:
    """The refund for the first ``units`` units returned of ``line``.

    ``units * line_total // quantity`` (rounded down), except that refunding all units
    refunds exactly ``line_total``. Use :func:`refund_of_units_after` for later returns of
    the same line, so the running total stays exact.
    """
    return refund_of_units_after(line, 0, units)


# A refused payout (no or restricted account) is tried again: the wait doubles up to an hour,
# and after a day of refusals it is once a day (operators were flagged, and their
# `retry_payout` tries at once). A vendor restricted for a year costs about 390 attempts,
# a few thousand history events, not the 8,760 of hourly tries.
PAYOUT_RETRY_MAX = timedelta(hours=1)
PAYOUT_RETRY_SLOW = timedelta(days=1)
SLOW_AFTER_FAILURES = 24


def next_payout_wait(wait: timedelta, failures: int) -> timedelta:
    """The wait before the next payout attempt, after `failures` refusals in a row."""
    if failures >= SLOW_AFTER_FAILURES:
        return PAYOUT_RETRY_SLOW
    return min(wait * 2, PAYOUT_RETRY_MAX)
