"""What a refund gives back and to whom: split between goods and shipping, shared across
vendor orders, priced per returned unit; made from a vendor order's money (domain.ledger).

Each function says what to do; recording it and calling the provider is the caller's job.
All of them are exact integer arithmetic, so a workflow replaying them decides the same.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from domain.errors import ValidationFailed
from domain.ledger import VendorOrderMoney, VendorOrderTerms
from domain.money import allocate
from domain.pricing import PricedLine


def split_refund(
    amount_cents: int, money: VendorOrderMoney, terms: VendorOrderTerms
) -> tuple[int, int]:
    """``(goods, shipping)`` of a refund of ``amount_cents`` on one vendor order.

    Rule, goods first: a refund is taken from the goods not yet refunded, and only what goes
    beyond them from the shipping not yet refunded. A refund is almost always for goods (a
    return, a cancelled unit, a goodwill gesture on an item); shipping goes back when
    everything else has, as in a full cancellation. Since commission is only on goods kept,
    this also gives back the platform's commission on every refunded cent it can.

    Refused with ``ValidationFailed`` (field ``amount_cents``) below 1 cent or above
    ``money.refundable_cents``.
    """
    if isinstance(amount_cents, bool) or not isinstance(amount_cents, int) or amount_cents < 1:
        raise ValidationFailed(
            f"a refund must be at least 1 cent, got {amount_cents!r}", field="amount_cents"
        )
    if amount_cents > money.refundable_cents:
        raise ValidationFailed(
            f"cannot refund {amount_cents} cents: {money.refundable_cents} are left to refund",
            field="amount_cents",
            requested=amount_cents,
            refundable_cents=money.refundable_cents,
        )
    goods_left = terms.subtotal_cents - money.refunded_goods_cents
    goods = min(amount_cents, goods_left)
    return goods, amount_cents - goods


def attribute_unnamed_refund(
    amount_cents: int, refundable_by_vendor_order: Mapping[str, int]
) -> dict[str, int]:
    """Split a refund that names no vendor order across the order's vendor orders.

    Used for refunds made outside the system (the Stripe dashboard or API) whose metadata has
    no ``vendor_order_id``. Rule: the refund is shared in proportion to what each vendor
    order still has refundable (``subtotal + shipping - refunded``), by largest remainder
    (:func:`domain.money.allocate`, vendor order ids taken in sorted order, so the earliest id
    wins a tied cent). Every cent of the refund is attributed, each share is within one cent
    of its exact proportion, and no vendor order gets more than it has refundable (nor
    anything, once fully refunded). Within a vendor order, :func:`split_refund` then takes the
    share from goods first.

    Proportional to what is refundable rather than to the original totals, so that a vendor
    order already partly refunded is not pushed past what it has left.

    Returns ``{vendor_order_id: cents}`` for the vendor orders that get a share (more than 0).
    Refused with ``ValidationFailed`` (field ``amount_cents``) below 1 cent or above the sum
    of what is refundable, and (field ``refundable_by_vendor_order``) for a negative amount.
    """
    if isinstance(amount_cents, bool) or not isinstance(amount_cents, int) or amount_cents < 1:
        raise ValidationFailed(
            f"a refund must be at least 1 cent, got {amount_cents!r}", field="amount_cents"
        )
    negative = sorted(key for key, cents in refundable_by_vendor_order.items() if cents < 0)
    if negative:
        raise ValidationFailed(
            f"refundable amounts must not be negative: {', '.join(negative)}",
            field="refundable_by_vendor_order",
            vendor_order_ids=negative,
        )
    refundable = sum(refundable_by_vendor_order.values())
    if amount_cents > refundable:
        raise ValidationFailed(
            f"cannot refund {amount_cents} cents: {refundable} are left to refund on the order",
            field="amount_cents",
            requested=amount_cents,
            refundable_cents=refundable,
        )
    # Sorted, so the same refund is attributed the same way whatever order the rows came in.
    ids = sorted(refundable_by_vendor_order)
    shares = allocate(amount_cents, [refundable_by_vendor_order[key] for key in ids])
    return {key: share for key, share in zip(ids, shares, strict=True) if share}


@dataclass(frozen=True)
class RefundShare:
    """The part of an outside refund (or a lost dispute) taken from one vendor order."""

    vendor_order_id: str
    amount_cents: int
    # Names the ledger entry (`stripe-refund:{provider_refund_id}`): the Stripe id alone when
    # one vendor order takes it all, `{id}:{vendor_order_id}` when it is shared.
    provider_refund_id: str


def share_outside_refund(
    refund_id: str,
    amount_cents: int,
    refundable_by_vendor_order: Mapping[str, int],
    named_vendor_order_id: str | None = None,
) -> list[RefundShare]:
    """How money Stripe gave back without this system asking is taken from the vendor orders.

    The vendor order the refund names (metadata ``vendor_order_id``) takes all of it, if it
    is one of them; otherwise it is shared by :func:`attribute_unnamed_refund`. Never more than
    is refundable: the rest is left for reconciliation to report. Decide this once per refund
    and keep the answer: what is refundable changes with every later refund, so deciding again
    could share the same refund differently, under other ledger keys, and count it twice.
    """
    candidates = dict(refundable_by_vendor_order)
    if named_vendor_order_id in candidates:
        candidates = {named_vendor_order_id: candidates[named_vendor_order_id]}
    candidates = {key: max(cents, 0) for key, cents in candidates.items()}
    amount = min(amount_cents, sum(candidates.values()))
    if amount <= 0:
        return []
    parts = attribute_unnamed_refund(amount, candidates)
    return [
        RefundShare(
            vendor_order_id=key,
            amount_cents=cents,
            provider_refund_id=refund_id if len(parts) == 1 else f"{refund_id}:{key}",
        )
        for key, cents in sorted(parts.items())
    ]


def refund_for_units(
    lines: Sequence[PricedLine],
    already_refunded_units: Mapping[str, int],
    units: Mapping[str, int],
) -> int:
    """The refund, in cents, for returning or cancelling ``units`` (per SKU) of ``lines``.

    Each SKU's share comes from :func:`refund_of_units_after`, given the units
    of that SKU already refunded, so successive returns of one line sum exactly to its total
    once every unit is back. Refused with ``ValidationFailed``: a SKU not among the lines
    (field ``lines``, ``extra["skus"]``), a SKU on two lines (field ``lines``), negative units or
    more units than are left to refund (field ``quantity``).
    """
    by_sku: dict[str, PricedLine] = {}
    for line in lines:
        if line.sku in by_sku:
            raise ValidationFailed(
                f"{line.sku} is on two lines; price each SKU on one line", field="lines"
            )
        by_sku[line.sku] = line
    unknown = sorted((set(units) | set(already_refunded_units)) - set(by_sku))
    if unknown:
        raise ValidationFailed(
            f"not on this vendor order: {', '.join(unknown)}", field="lines", skus=unknown
        )
    return sum(
        refund_of_units_after(by_sku[sku], already_refunded_units.get(sku, 0), count)
        for sku, count in units.items()
    )


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
