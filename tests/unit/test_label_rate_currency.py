"""A label is bought only with a rate in the vendor order's currency (domain.shipping)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from domain.errors import ErrorCode, InvalidState, ValidationFailed
from domain.shipping import choose_rate


@dataclass(frozen=True)
class Quote:
    rate_id: str
    amount_cents: int
    currency: str
    estimated_days: int | None


def test_given_a_cheaper_rate_in_another_currency_when_choosing_then_the_order_currency_wins() -> (
    None
):
    rates = [
        Quote("r_cad", 500, "cad", 3),
        Quote("r_usd_dear", 900, "usd", 5),
        Quote("r_usd", 700, "USD", 4),
    ]

    assert choose_rate(rates, None, currency="usd").rate_id == "r_usd"


def test_given_only_rates_in_another_currency_when_choosing_then_validation_error_names_both() -> (
    None
):
    rates = [Quote("r_cad", 500, "cad", 3), Quote("r_eur", 450, "eur", 2)]

    with pytest.raises(ValidationFailed) as refused:
        choose_rate(rates, 5, currency="USD")

    assert refused.value.code == ErrorCode.VALIDATION_ERROR
    assert refused.value.detail.startswith("no rate in usd")
    assert refused.value.extra == {"currency": "usd", "offered": ["cad", "eur"]}


def test_given_no_rates_at_all_when_choosing_then_validation_error_offers_nothing() -> None:
    with pytest.raises(ValidationFailed) as refused:
        choose_rate([], None, currency="usd")

    assert refused.value.extra == {"currency": "usd", "offered": []}


def test_given_a_fast_rate_only_in_another_currency_when_the_sla_needs_it_then_invalid_state() -> (
    None
):
    # The fast one is in CAD: it neither meets the order's currency nor may be bought.
    rates = [Quote("r_cad_fast", 900, "cad", 1), Quote("r_usd_slow", 500, "usd", 6)]

    with pytest.raises(InvalidState) as refused:
        choose_rate(rates, 2, currency="usd")

    assert refused.value.extra == {"max_transit_days": 2, "rates": 1}
