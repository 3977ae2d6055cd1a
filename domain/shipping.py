"""Choosing what a label costs: the cheapest rate that meets the vendor's service level."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, TypeVar

from domain.errors import InvalidState, ValidationFailed


class RateOption(Protocol):
    @property
    def rate_id(self) -> str: ...
    @property
    def amount_cents(self) -> int: ...
    @property
    def currency(self) -> str: ...
    @property
    def estimated_days(self) -> int | None: ...


R = TypeVar("R", bound=RateOption)


def choose_rate(rates: Sequence[R], max_transit_days: int | None, *, currency: str) -> R:
    """The cheapest rate in the order's ``currency`` arriving within ``max_transit_days`` (any
    rate when None).

    A label's cost is taken from a payout in the order's currency, so a rate in another
    currency is never comparable, let alone bought: none in the currency is refused with
    ``ValidationFailed`` (``extra``: currency, offered). A rate that does not say how long it
    takes never meets a limit. Ties go to the faster rate, then to the lower id, so the choice
    is the same on every retry. Refused with ``InvalidState`` (``extra``: max_transit_days,
    rates) when none qualifies.
    """
    wanted = currency.lower()
    same_currency = [rate for rate in rates if rate.currency.lower() == wanted]
    if not same_currency:
        raise ValidationFailed(
            f"no rate in {wanted}: the carriers quoted this parcel in "
            f"{', '.join(sorted({rate.currency.lower() for rate in rates})) or 'nothing'}",
            currency=wanted,
            offered=sorted({rate.currency.lower() for rate in rates}),
        )
    meeting = [
        rate
        for rate in same_currency
        if max_transit_days is None
        or (rate.estimated_days is not None and rate.estimated_days <= max_transit_days)
    ]
    if not meeting:
        raise InvalidState(
            "no shipping rate meets the vendor's service level",
            max_transit_days=max_transit_days,
            rates=len(same_currency),
        )
    return min(
        meeting,
        key=lambda rate: (
            rate.amount_cents,
            rate.estimated_days if rate.estimated_days is not None else 10**6,
            rate.rate_id,
        ),
    )
