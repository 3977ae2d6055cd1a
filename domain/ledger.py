"""A vendor order's money, derived from the ledger's movements (issue #3, API.md money rules).

The ledger is append-only: each movement of money (the charge, a refund, a transfer to the
vendor, a reversal of part of it, commission recognised, a debt the vendor could not cover
and its later recovery) is one row, and every total the API shows is computed here from those
rows. Nothing is stored twice, so a total can never disagree with the movements behind it.

The rules (commission on goods not refunded, half up; payout = charged - refunded -
commission - label) are those of :func:`domain.payout.payout_breakdown`, applied to what the
ledger says was refunded, so every path (cancellation, return, refund from the dashboard,
refund after payout) computes the same numbers.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from domain.errors import InvalidState, ValidationFailed
from domain.payout import payout_breakdown
from domain.status import PayoutStatus


class EntryKind(StrEnum):
    CHARGE = "charge"  # buyer charged (order level, vendor_order_id None)
    REFUND = "refund"  # money back to the buyer, attributed to one vendor order
    TRANSFER = "transfer"  # payout to the vendor
    TRANSFER_REVERSAL = "transfer_reversal"  # part of a transfer taken back from the vendor
    # The platform's commission recognised; signed: a refund after it was recognised gives back
    # the commission on the refunded goods as a negative adjustment.
    COMMISSION = "commission"
    VENDOR_DEBT = "vendor_debt"  # a reversal the vendor's balance could not cover: it owes it
    # That debt recovered by netting it against a later payout of the same vendor, recorded on
    # the vendor order whose payout was reduced.
    DEBT_SETTLED = "debt_settled"


@dataclass(frozen=True)
class Movement:
    """One ledger row, as far as the money rules care.

    ``amount_cents`` is never negative, except for COMMISSION, whose adjustments are signed.
    ``refunded_goods_cents`` is only meaningful on a REFUND: the part of it that was goods
    (0 to ``amount_cents``); the rest was shipping. Refused with ``ValidationFailed``
    otherwise, so a malformed row is caught where it is read, not where a total looks odd.
    """

    kind: EntryKind
    amount_cents: int
    vendor_order_id: str | None = None
    refunded_goods_cents: int = 0

    def __post_init__(self) -> None:
        try:
            kind = EntryKind(self.kind)
        except ValueError:
            raise ValidationFailed(
                f"unknown ledger entry kind {self.kind!r}", field="kind"
            ) from None
        # Rows read from the database may carry the kind as a plain string.
        object.__setattr__(self, "kind", kind)
        _ensure_int(self.amount_cents, "amount_cents")
        _ensure_int(self.refunded_goods_cents, "refunded_goods_cents")
        if kind is not EntryKind.COMMISSION and self.amount_cents < 0:
            raise ValidationFailed(
                f"a {kind} movement must not be negative, got {self.amount_cents}",
                field="amount_cents",
            )
        if kind is EntryKind.REFUND:
            if not 0 <= self.refunded_goods_cents <= self.amount_cents:
                raise ValidationFailed(
                    f"the goods part of a refund ({self.refunded_goods_cents}) must lie between "
                    f"0 and the refund ({self.amount_cents})",
                    field="refunded_goods_cents",
                )
        elif self.refunded_goods_cents:
            raise ValidationFailed(
                f"only a refund has refunded goods, not a {kind}", field="refunded_goods_cents"
            )


@dataclass(frozen=True)
class VendorOrderTerms:
    """What a vendor order was sold for, fixed at confirmation (the label once bought)."""

    subtotal_cents: int
    shipping_cents: int
    commission_bps: int
    label_cost_cents: int = 0


@dataclass(frozen=True)
class VendorOrderMoney:
    """A vendor order's money now. See :func:`vendor_order_money` for each rule.

    The last three fields come after the ones callers build on and have defaults, so code
    that builds this by hand (tests, fakes) keeps working.
    """

    refunded_cents: int
    refunded_goods_cents: int
    refunded_shipping_cents: int
    commission_cents: int  # commission_bps of (subtotal - refunded goods), half up
    payout_cents: int  # what the vendor is entitled to now (API.md formula, >= 0)
    transferred_cents: int  # sum of transfers
    reversed_cents: int  # sum of reversals
    net_transferred_cents: int  # transferred - reversed
    debt_cents: int  # VENDOR_DEBT recorded on this vendor order
    to_reverse_cents: int  # what must still be taken back from the vendor
    refundable_cents: int  # subtotal + shipping - refunded
    payout_status: str  # PayoutStatus: pending, released or reversed
    debt_settled_cents: int = 0  # the vendor's debts netted against this vendor order's payout
    commission_recorded_cents: int = 0  # sum of COMMISSION movements on this vendor order
    label_cost_cents: int = 0  # the label cost recovered from the payout (see payout_breakdown)

    @property
    def paid_cents(self) -> int:
        """What the vendor has effectively been given for this vendor order.

        Transfers net of reversals; plus the debt netted against this payout (the vendor got
        that money too: it cancelled what it owed); minus the debt created here (money the
        vendor kept although it should have given it back).
        """
        return self.net_transferred_cents + self.debt_settled_cents - self.debt_cents

    @property
    def unpaid_cents(self) -> int:
        """``payout - paid``: still to pay when positive, to take back when negative."""
        return self.payout_cents - self.paid_cents

    @property
    def commission_to_record_cents(self) -> int:
        """The COMMISSION movement (signed) that would bring the recorded commission in line."""
        return self.commission_cents - self.commission_recorded_cents


def vendor_order_money(terms: VendorOrderTerms, movements: Sequence[Movement]) -> VendorOrderMoney:
    """The money of one vendor order, from its terms and its ledger movements.

    ``movements`` are that vendor order's rows (CHARGE rows, which belong to the order, are
    ignored, so an order's rows filtered by vendor order can be passed as they are). Rows of
    two different vendor orders are refused with ``ValidationFailed``.

    - refunded = sum of REFUNDs, split into goods (their ``refunded_goods_cents``) and
      shipping (the rest);
    - commission and payout: :func:`domain.payout.payout_breakdown` of the terms and those
      refunds: commission is ``commission_bps`` of the goods not refunded, half up; payout is
      ``subtotal + shipping - refunded - commission - label`` and never negative (a label
      dearer than what is left is recovered only up to what is left: ``label_cost_cents``);
    - ``paid = transferred - reversed + debt_settled - debt`` (see ``paid_cents``);
    - ``to_reverse = max(0, paid - payout)``: after a refund that came after the transfer, the
      part of what the vendor got that it is no longer entitled to. Once reversed, or recorded
      as debt because the reversal failed, it is 0 again;
    - ``refundable = subtotal + shipping - refunded``;
    - ``payout_status``: ``pending`` before any TRANSFER (a payout wholly netted against debt
      records a TRANSFER of 0, so it reads as released); ``released`` once transferred with
      no reversal and no debt; ``reversed`` once any reversal or debt exists. (``none`` for a
      cancelled vendor order is the vendor order's status, not the ledger's, to decide.)

    Refunds beyond what was charged, reversals beyond what was transferred, and invalid
    terms are refused with ``ValidationFailed``: such a ledger is wrong, and a total computed
    from it would hide that.
    """
    _ensure_one_vendor_order(movements)
    refunded_goods = _total(movements, EntryKind.REFUND, goods=True)
    refunded = _total(movements, EntryKind.REFUND)
    breakdown = payout_breakdown(
        subtotal_cents=terms.subtotal_cents,
        shipping_cents=terms.shipping_cents,
        commission_bps=terms.commission_bps,
        refunded_goods_cents=refunded_goods,
        refunded_shipping_cents=refunded - refunded_goods,
        label_cost_cents=terms.label_cost_cents,
    )
    transferred = _total(movements, EntryKind.TRANSFER)
    reversed_ = _total(movements, EntryKind.TRANSFER_REVERSAL)
    if reversed_ > transferred:
        raise ValidationFailed(
            f"reversals ({reversed_}) exceed the transfers ({transferred}) of the vendor order",
            field="movements",
        )
    debt = _total(movements, EntryKind.VENDOR_DEBT)
    debt_settled = _total(movements, EntryKind.DEBT_SETTLED)
    paid = transferred - reversed_ + debt_settled - debt
    if reversed_ or debt:
        status = PayoutStatus.REVERSED
    elif any(movement.kind is EntryKind.TRANSFER for movement in movements):
        status = PayoutStatus.RELEASED
    else:
        status = PayoutStatus.PENDING
    return VendorOrderMoney(
        refunded_cents=breakdown.refunded_cents,
        refunded_goods_cents=breakdown.refunded_goods_cents,
        refunded_shipping_cents=breakdown.refunded_cents - breakdown.refunded_goods_cents,
        commission_cents=breakdown.commission_cents,
        payout_cents=breakdown.payout_cents,
        transferred_cents=transferred,
        reversed_cents=reversed_,
        net_transferred_cents=transferred - reversed_,
        debt_cents=debt,
        to_reverse_cents=max(0, paid - breakdown.payout_cents),
        refundable_cents=breakdown.charged_cents - breakdown.refunded_cents,
        payout_status=status,
        debt_settled_cents=debt_settled,
        commission_recorded_cents=_total(movements, EntryKind.COMMISSION),
        label_cost_cents=breakdown.label_cost_cents,
    )


def vendor_debt_outstanding(movements: Sequence[Movement]) -> int:
    """What one vendor still owes: all its VENDOR_DEBT minus all its DEBT_SETTLED.

    ``movements`` are the vendor's rows over all its vendor orders (other kinds are ignored).
    More settled than owed would mean the vendor was paid less than its due (two payouts
    netted one debt): that is refused with ``InvalidState`` rather than read as 0, so it is
    seen and repaired instead of silently kept.
    """
    owed = _total(movements, EntryKind.VENDOR_DEBT) - _total(movements, EntryKind.DEBT_SETTLED)
    if owed < 0:
        raise InvalidState(
            f"the vendor's debts were settled {-owed} cents beyond what it owed",
            field="movements",
            over_settled_cents=-owed,
        )
    return owed


def order_balance(charged_cents: int, movements: Sequence[Movement], label_costs_cents: int) -> int:
    """What the ledger of one order fails to explain; 0 when its books are complete.

    Identity::

        balance = charged
                  - sum(REFUND)
                  - (sum(TRANSFER) - sum(TRANSFER_REVERSAL))
                  - sum(COMMISSION)
                  - label_costs
                  + sum(VENDOR_DEBT)
                  - sum(DEBT_SETTLED)

    Read it as: the cash the platform keeps from the order (charged, less refunds, less what
    vendors hold after reversals) must be what it earned (commission and the label costs it
    recovered), less what a vendor kept although it owed it back (VENDOR_DEBT recorded on this
    order's vendor orders), plus what was kept from this order's payouts to recover a vendor's
    debt from elsewhere (DEBT_SETTLED recorded here). Each debt thus moves cash between two
    orders, and each order balances on its own.

    - ``charged_cents`` is what the buyer paid for the order (its ``total_cents`` once
      charged). CHARGE rows in ``movements`` are not counted again, so the order's whole
      ledger can be passed as it is;
    - ``movements`` are all the order's rows;
    - ``label_costs_cents`` is the label cost recovered from the order's payouts: the sum of
      its vendor orders' ``VendorOrderMoney.label_cost_cents`` (a label dearer than what was
      left is absorbed by the platform beyond that, and is not the order's money).

    Since each vendor order's charged amount is ``refunded + commission + label + payout``
    (:func:`domain.payout.payout_breakdown`), with those label costs the balance equals, over
    the order's vendor orders, ``sum(unpaid_cents + commission_to_record_cents)``: what is
    still to pay the vendors (or to take back, negative) and commission not yet recorded.
    The books are complete when both are 0 for every vendor order: each payout made, each
    reversal made or recorded as debt, commission recorded. Reconciliation reports any other
    balance.
    """
    refunded = _total(movements, EntryKind.REFUND)
    net_transferred = _total(movements, EntryKind.TRANSFER) - _total(
        movements, EntryKind.TRANSFER_REVERSAL
    )
    commission = _total(movements, EntryKind.COMMISSION)
    debts = _total(movements, EntryKind.VENDOR_DEBT)
    settled = _total(movements, EntryKind.DEBT_SETTLED)
    return (
        charged_cents
        - refunded
        - net_transferred
        - commission
        - label_costs_cents
        + debts
        - settled
    )


def _total(movements: Iterable[Movement], kind: EntryKind, *, goods: bool = False) -> int:
    return sum(
        movement.refunded_goods_cents if goods else movement.amount_cents
        for movement in movements
        if movement.kind is kind
    )


def _ensure_one_vendor_order(movements: Sequence[Movement]) -> None:
    # Money of two vendor orders summed together would look plausible and be wrong.
    ids = {m.vendor_order_id for m in movements if m.kind is not EntryKind.CHARGE}
    if len(ids) > 1:
        named = sorted(str(vendor_order_id) for vendor_order_id in ids)
        raise ValidationFailed(
            f"movements of several vendor orders given as one: {', '.join(named)}",
            field="movements",
            vendor_order_ids=named,
        )


def _ensure_int(value: object, field: str) -> None:
    # bool is an int to Python, never an amount of money.
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationFailed(
            f"{field} must be a whole number of cents, got {value!r}", field=field
        )
