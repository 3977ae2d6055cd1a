"""Choosing what a label costs: the cheapest rate that meets the vendor's service level."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, TypeVar

from domain.errors import InvalidState


class RateOption(Protocol):
    @property
    def rate_id(self) -> str: ...
    @property
    def amount_cents(self) -> int: ...
    @property
    def estimated_days(self) -> int | None: ...


R = TypeVar("R", bound=RateOption)


def choose_rate(rates: Sequence[R], max_transit_days: int | None) -> R:
    """The cheapest rate arriving within ``max_transit_days`` (any rate when None).

    A rate that does not say how long it takes never meets a limit. Ties go to the faster
    rate, then to the lower id, so the choice is the same on every retry. Refused with
    ``InvalidState`` (``extra``: max_transit_days, rates) when none qualifies.
    """
    meeting = [
        rate
        for rate in rates
        if max_transit_days is None
        or (rate.estimated_days is not None and rate.estimated_days <= max_transit_days)
    ]
    if not meeting:
        raise InvalidState(
            "no shipping rate meets the vendor's service level",
            max_transit_days=max_transit_days,
            rates=len(rates),
        )
    return min(
        meeting,
        key=lambda rate: (
            rate.amount_cents,
            rate.estimated_days if rate.estimated_days is not None else 10**6,
            rate.rate_id,
        ),
    )
