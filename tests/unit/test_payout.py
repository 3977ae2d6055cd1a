"""Vendor payouts: commission on goods kept, refunds by unit, every cent accounted for."""

import pytest

from domain.errors import ValidationFailed
from domain.payout import PayoutBreakdown, label_recovered_cents, payout_breakdown
from domain.pricing import PricedLine
from domain.refunds import refund_of_units_after


class TestPayoutBreakdown:
    def test_without_refunds_the_vendor_gets_everything_but_the_commission(self) -> None:
        breakdown = payout_breakdown(
            subtotal_cents=10_000, shipping_cents=500, commission_bps=1_000
        )

        assert breakdown == PayoutBreakdown(
            subtotal_cents=10_000,
            shipping_cents=500,
            refunded_cents=0,
            refunded_goods_cents=0,
            commission_cents=1_000,
            label_cost_cents=0,
            payout_cents=9_500,
        )

    def test_commission_is_charged_on_shipping_never(self) -> None:
        breakdown = payout_breakdown(subtotal_cents=0, shipping_cents=700, commission_bps=1_000)

        assert (breakdown.commission_cents, breakdown.payout_cents) == (0, 700)

    def test_commission_is_taken_only_on_the_goods_not_refunded(self) -> None:
        breakdown = payout_breakdown(
            subtotal_cents=10_000,
            shipping_cents=500,
            commission_bps=1_000,
            refunded_goods_cents=4_000,
        )

        assert breakdown.commission_cents == 600
        assert breakdown.refunded_cents == 4_000
        assert breakdown.payout_cents == 5_900

    def test_commission_rounds_half_up_to_the_cent(self) -> None:
        # 12.5 % of 1.00 is 12.5 cents
        breakdown = payout_breakdown(subtotal_cents=100, shipping_cents=0, commission_bps=1_250)

        assert (breakdown.commission_cents, breakdown.payout_cents) == (13, 87)

    def test_refunded_shipping_counts_as_refunded_but_not_as_refunded_goods(self) -> None:
        breakdown = payout_breakdown(
            subtotal_cents=2_000,
            shipping_cents=500,
            commission_bps=1_000,
            refunded_goods_cents=2_000,
            refunded_shipping_cents=500,
        )

        assert breakdown == PayoutBreakdown(2_000, 500, 2_500, 2_000, 0, 0, 0)

    def test_a_label_bought_by_the_platform_is_taken_from_the_payout(self) -> None:
        breakdown = payout_breakdown(
            subtotal_cents=10_000, shipping_cents=500, commission_bps=1_000, label_cost_cents=650
        )

        assert (breakdown.label_cost_cents, breakdown.payout_cents) == (650, 8_850)

    def test_a_label_dearer_than_what_is_left_leaves_a_zero_payout_not_a_debt(self) -> None:
        breakdown = payout_breakdown(
            subtotal_cents=1_000,
            shipping_cents=0,
            commission_bps=1_000,
            refunded_goods_cents=800,
            label_cost_cents=650,
        )

        # 200 kept, 20 commission: 180 left, all of it recovered for the label.
        assert breakdown == PayoutBreakdown(1_000, 0, 800, 800, 20, 180, 0)

    def test_charged_equals_refunded_plus_payout_plus_commission_plus_label(self) -> None:
        breakdown = payout_breakdown(
            subtotal_cents=7_777,
            shipping_cents=333,
            commission_bps=1_234,
            refunded_goods_cents=1_111,
            refunded_shipping_cents=33,
            label_cost_cents=444,
        )

        assert breakdown.charged_cents == 8_110
        assert (
            breakdown.refunded_cents
            + breakdown.payout_cents
            + breakdown.commission_cents
            + breakdown.label_cost_cents
        ) == 8_110

    def test_refunding_more_goods_than_were_charged_is_refused(self) -> None:
        with pytest.raises(ValidationFailed, match="exceed the goods charged") as refused:
            payout_breakdown(
                subtotal_cents=1_000,
                shipping_cents=500,
                commission_bps=1_000,
                refunded_goods_cents=1_001,
            )
        assert refused.value.extra == {"field": "refunded_goods_cents"}

    def test_refunding_more_shipping_than_was_charged_is_refused(self) -> None:
        with pytest.raises(ValidationFailed, match="exceeds the shipping charged") as refused:
            payout_breakdown(
                subtotal_cents=1_000,
                shipping_cents=500,
                commission_bps=1_000,
                refunded_shipping_cents=501,
            )
        assert refused.value.extra == {"field": "refunded_shipping_cents"}

    @pytest.mark.parametrize(
        "field",
        [
            "subtotal_cents",
            "shipping_cents",
            "refunded_goods_cents",
            "refunded_shipping_cents",
            "label_cost_cents",
        ],
    )
    def test_negative_amounts_are_refused(self, field: str) -> None:
        amounts = {"subtotal_cents": 1_000, "shipping_cents": 500, field: -1}

        with pytest.raises(ValidationFailed, match="must not be negative") as refused:
            payout_breakdown(commission_bps=1_000, **amounts)
        assert refused.value.extra == {"field": field}

    def test_a_commission_rate_above_100_percent_is_refused(self) -> None:
        with pytest.raises(ValidationFailed) as refused:
            payout_breakdown(subtotal_cents=1_000, shipping_cents=0, commission_bps=10_001)
        assert refused.value.extra == {"field": "commission_bps"}


LINE = PricedLine("MUG", "ven_a", quantity=3, unit_price_cents=999, line_total_cents=2_997)
# A line total that does not divide by its quantity (as after a line-level discount).
ODD = PricedLine("MUG", "ven_a", quantity=3, unit_price_cents=33, line_total_cents=100)


class TestRefundOfUnits:
    def test_refunding_units_refunds_their_unit_price(self) -> None:
        assert refund_of_units_after(LINE, 0, 2) == 1_998

    def test_refunding_every_unit_refunds_exactly_the_line_total(self) -> None:
        assert refund_of_units_after(LINE, 0, 3) == 2_997
        assert refund_of_units_after(ODD, 0, 3) == 100

    def test_a_share_that_is_not_whole_cents_is_rounded_down(self) -> None:
        assert refund_of_units_after(ODD, 0, 1) == 33
        assert refund_of_units_after(ODD, 0, 2) == 66

    def test_refunding_no_units_refunds_nothing(self) -> None:
        assert refund_of_units_after(LINE, 0, 0) == 0

    def test_the_last_unit_returned_takes_the_remainder(self) -> None:
        assert [refund_of_units_after(ODD, already, 1) for already in range(3)] == [33, 33, 34]

    def test_later_returns_of_the_same_line_add_up_to_the_line_total(self) -> None:
        first = refund_of_units_after(ODD, 0, 2)
        second = refund_of_units_after(ODD, 2, 1)

        assert (first, second) == (66, 34)
        assert first + second == ODD.line_total_cents

    def test_refunding_more_units_than_bought_is_refused(self) -> None:
        with pytest.raises(ValidationFailed, match="cannot refund 4 units of MUG") as refused:
            refund_of_units_after(LINE, 0, 4)
        assert refused.value.extra == {
            "field": "quantity",
            "sku": "MUG",
            "requested": 4,
            "refundable": 3,
        }

    def test_refunding_units_already_refunded_is_refused(self) -> None:
        with pytest.raises(ValidationFailed) as refused:
            refund_of_units_after(LINE, 2, 2)
        assert refused.value.extra["refundable"] == 1

    @pytest.mark.parametrize(("already", "units"), [(0, -1), (-1, 1)])
    def test_negative_units_are_refused(self, already: int, units: int) -> None:
        with pytest.raises(ValidationFailed, match="must not be negative"):
            refund_of_units_after(LINE, already, units)


def test_a_payout_refused_for_a_year_is_tried_about_390_times_not_hourly() -> None:
    from datetime import timedelta

    from domain.payout import PAYOUT_RETRY_SLOW, next_payout_wait

    wait, waited, attempts, failures = timedelta(minutes=1), timedelta(0), 1, 0
    while waited < timedelta(days=365):
        failures += 1
        waited += wait
        wait = next_payout_wait(wait, failures)
        attempts += 1
    # Hourly for the first day, then daily: ~8 history events an attempt, ~3,100 in a year.
    assert 380 <= attempts <= 395
    assert wait == PAYOUT_RETRY_SLOW
    assert next_payout_wait(timedelta(minutes=1), 1) == timedelta(minutes=2)
    assert next_payout_wait(timedelta(minutes=50), 5) == timedelta(hours=1)


def test_a_label_is_recovered_from_the_payout_only_up_to_what_it_had_left() -> None:
    assert label_recovered_cents(800, 5000) == 800
    assert label_recovered_cents(800, 300) == 300
    # A vendor order refunded beyond its payout (a lost dispute) recovers nothing, never less
    assert label_recovered_cents(800, -200) == 0
