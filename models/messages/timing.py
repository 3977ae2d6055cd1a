"""How long an order's steps may take: one policy, taken from the settings at checkout
(`Settings.timing_policy`), carried by the order's workflow input and handed as it is to each
vendor order's (the vendor's own ship SLA comes with the catalog, per vendor).

Inputs recorded before the policy existed (issue 11) carry the same values as flat fields of
the workflow input; `gather_timing` reads them into the policy, so those runs replay and go
on with the values they started with."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class TimingPolicy(BaseModel):
    # After delivery, the buyer may open returns for this long; the vendor is paid after.
    return_window_seconds: float
    # A refused payout is tried again after this (then slower: domain.payout).
    payout_retry_seconds: float = 60.0
    # Reserved stock is held this long unless renewed (the vendor order renews it).
    hold_seconds: float = 3600.0
    # Service-level timers (None: none): cancel after the ship SLA plus this, flag delivery
    # overdue after this, expire an open return after this.
    auto_cancel_seconds: float | None = None
    delivery_overdue_seconds: float | None = None
    return_expires_seconds: float | None = None
    # A vendor order's workflow continues as new past this many history events, so a wait
    # of months (a payout refused for a restricted account) never outgrows its history.
    history_limit: int = 2000


FIELDS = frozenset(TimingPolicy.model_fields)


def gather_timing(data: Any) -> Any:
    """A workflow input as recorded before the policy: its flat timing fields become
    `timing` (a before-validator of the inputs that carry the policy)."""
    if not isinstance(data, dict) or "timing" in data:
        return data
    rest = {key: value for key, value in data.items() if key not in FIELDS}
    return {**rest, "timing": {key: value for key, value in data.items() if key in FIELDS}}
