"""What a vendor is paid for a sub-order, when, and what is taken back after a refund.

Every cent charged for a vendor order ends up in exactly one place:

    charged (subtotal + shipping) = refunded + payout + commission + label_cost

Commission is taken only on the goods the customer kept, so a refund returns the platform's
share of those goods too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from domain.commission import commission_cents as _commission_cents
from domain.commission import ensure_commission_bps
from domain.errors import ValidationFailed

if TYPE_CHECKING:  # domain.ledger builds on payout_breakdown, defined here
    from domain.ledger import VendorOrderMoney


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


@dataclass(frozen=True)
class PayoutPlan:
    transfer_cents: int  # to transfer now; 0 means no Transfer is made
    debt_settled_cents: int  # the vendor's outstanding debt netted against this payout
    payout_cents: int  # the vendor order's payout (entitlement) the plan is for


def plan_payout(money: VendorOrderMoney, vendor_debt_outstanding_cents: int) -> PayoutPlan:
    """What to pay the vendor now for this vendor order.

    What is still due is ``payout - paid`` (``money.unpaid_cents``: the payout less what was
    already transferred net of reversals, or netted, for it). The vendor's outstanding debt
    (from reversals it could not cover, on any of its vendor orders) is netted first, up to
    what is due; the rest is transferred. Nothing is due once the payout is recorded (or
    when the vendor was overpaid: that is :func:`plan_reversal`'s case).

    The netted debt becomes a DEBT_SETTLED movement on this vendor order; record it before
    calling the provider, so a retried transfer is sent with the same amount and key.
    Refused with ``ValidationFailed`` for a negative debt.
    """
    if vendor_debt_outstanding_cents < 0:
        raise ValidationFailed(
            f"a vendor's debt must not be negative, got {vendor_debt_outstanding_cents}",
            field="vendor_debt_outstanding_cents",
        )
    due = max(0, money.unpaid_cents)
    settled = min(vendor_debt_outstanding_cents, due)
    return PayoutPlan(
        transfer_cents=due - settled, debt_settled_cents=settled, payout_cents=money.payout_cents
    )


@dataclass(frozen=True)
class ReversalPlan:
    reverse_cents: int  # to take back from this vendor order's transfer (transfers.reversals)
    # The part that no transfer of this vendor order can give back, because it was paid by
    # netting an earlier debt rather than transferred: the vendor owes it again, so record it
    # as VENDOR_DEBT at once. 0 unless this vendor order's payout settled a debt.
    debt_cents: int = 0


def plan_reversal(money: VendorOrderMoney) -> ReversalPlan:
    """After a refund that came after the payout: how much to take back from the vendor.

    All of ``money.to_reverse_cents``, from the vendor order's transfer, as far as what is
    left of that transfer allows; the rest (only possible when this payout settled a debt)
    is owed again as ``debt_cents``. A reversal the provider refuses (the vendor's balance
    cannot cover it) is recorded as VENDOR_DEBT of ``reverse_cents`` by the caller.
    """
    reverse = min(money.to_reverse_cents, money.net_transferred_cents)
    return ReversalPlan(reverse_cents=reverse, debt_cents=money.to_reverse_cents - reverse)
