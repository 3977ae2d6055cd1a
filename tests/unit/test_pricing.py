"""Pricing: tiers are volume discounts on a SKU's total quantity in the order."""

import pytest

from domain.errors import ValidationFailed
from domain.pricing import (
    CatalogItem,
    PricedLine,
    PriceTier,
    RequestedLine,
    merge_lines,
    price_lines,
    unit_price_cents,
    validate_tiers,
)

BRAKE = CatalogItem(
    sku="BRAKE-01",
    vendor_id="ven_a",
    price_cents=1_000,
    currency="usd",
    tiers=(PriceTier(5, 900), PriceTier(10, 800)),
)
TYRE = CatalogItem(sku="TYRE-700", vendor_id="ven_b", price_cents=2_500, currency="usd")
EURO_BELL = CatalogItem(sku="BELL-EU", vendor_id="ven_b", price_cents=700, currency="eur")
CATALOG = {item.sku: item for item in (BRAKE, TYRE, EURO_BELL)}


class TestValidateTiers:
    def test_tiers_come_back_sorted_by_threshold(self) -> None:
        tiers = [PriceTier(10, 800), PriceTier(2, 950), PriceTier(5, 900)]

        assert validate_tiers(1_000, tiers) == (
            PriceTier(2, 950),
            PriceTier(5, 900),
            PriceTier(10, 800),
        )

    def test_no_tiers_is_valid(self) -> None:
        assert validate_tiers(1_000, []) == ()

    def test_a_tier_may_keep_the_price_of_the_previous_one(self) -> None:
        assert validate_tiers(1_000, [PriceTier(2, 1_000), PriceTier(3, 1_000)]) == (
            PriceTier(2, 1_000),
            PriceTier(3, 1_000),
        )

    def test_a_free_tier_is_valid(self) -> None:
        assert validate_tiers(1_000, [PriceTier(100, 0)]) == (PriceTier(100, 0),)

    @pytest.mark.parametrize("min_quantity", [1, 0, -3])
    def test_a_tier_must_start_at_two_units_or_more(self, min_quantity: int) -> None:
        with pytest.raises(ValidationFailed, match="2 units or more") as refused:
            validate_tiers(1_000, [PriceTier(min_quantity, 900)])
        assert refused.value.extra == {"field": "price_tiers"}

    def test_two_tiers_cannot_start_at_the_same_quantity(self) -> None:
        with pytest.raises(ValidationFailed, match="two price tiers start at") as refused:
            validate_tiers(1_000, [PriceTier(5, 900), PriceTier(5, 800)])
        assert refused.value.extra == {"field": "price_tiers"}

    def test_a_tier_price_cannot_be_negative(self) -> None:
        with pytest.raises(ValidationFailed, match="negative price") as refused:
            validate_tiers(1_000, [PriceTier(5, -1)])
        assert refused.value.extra == {"field": "price_tiers"}

    def test_a_tier_cannot_cost_more_than_the_base_price(self) -> None:
        with pytest.raises(ValidationFailed, match="tiers are discounts") as refused:
            validate_tiers(1_000, [PriceTier(5, 1_001)])
        assert refused.value.extra == {"field": "price_tiers"}

    def test_buying_more_never_makes_a_unit_dearer(self) -> None:
        with pytest.raises(ValidationFailed, match="tiers are discounts"):
            validate_tiers(1_000, [PriceTier(5, 800), PriceTier(10, 900)])

    def test_a_negative_base_price_is_refused(self) -> None:
        with pytest.raises(ValidationFailed) as refused:
            validate_tiers(-1, [])
        assert refused.value.extra == {"field": "price_cents"}


class TestUnitPrice:
    def test_below_every_threshold_the_base_price_applies(self) -> None:
        assert unit_price_cents(BRAKE, 4) == 1_000

    def test_a_threshold_applies_from_its_exact_quantity(self) -> None:
        assert unit_price_cents(BRAKE, 5) == 900

    def test_the_tier_with_the_highest_threshold_reached_applies(self) -> None:
        assert unit_price_cents(BRAKE, 9) == 900
        assert unit_price_cents(BRAKE, 10) == 800
        assert unit_price_cents(BRAKE, 10_000) == 800

    def test_tiers_stored_out_of_order_still_pick_the_highest_threshold(self) -> None:
        item = CatalogItem(
            sku="X",
            vendor_id="v",
            price_cents=100,
            currency="usd",
            tiers=(PriceTier(10, 80), PriceTier(3, 90)),
        )

        assert unit_price_cents(item, 12) == 80

    def test_an_item_without_tiers_always_costs_its_base_price(self) -> None:
        assert unit_price_cents(TYRE, 1) == 2_500
        assert unit_price_cents(TYRE, 500) == 2_500

    def test_a_quantity_below_one_has_no_price(self) -> None:
        with pytest.raises(ValidationFailed):
            unit_price_cents(TYRE, 0)


class TestMergeLines:
    def test_lines_of_the_same_sku_are_counted_together_in_first_seen_order(self) -> None:
        lines = [
            RequestedLine("TYRE-700", 1),
            RequestedLine("BRAKE-01", 2),
            RequestedLine("TYRE-700", 3),
        ]

        assert merge_lines(lines) == [RequestedLine("TYRE-700", 4), RequestedLine("BRAKE-01", 2)]

    def test_distinct_skus_are_kept_as_they_are(self) -> None:
        lines = [RequestedLine("A", 1), RequestedLine("B", 2)]

        assert merge_lines(lines) == lines

    def test_no_lines_merge_to_no_lines(self) -> None:
        assert merge_lines([]) == []


class TestPriceLines:
    def test_each_line_is_priced_at_its_unit_price_times_its_quantity(self) -> None:
        lines = [RequestedLine("BRAKE-01", 2), RequestedLine("TYRE-700", 1)]

        assert price_lines(lines, CATALOG, "usd") == [
            PricedLine("BRAKE-01", "ven_a", 2, 1_000, 2_000),
            PricedLine("TYRE-700", "ven_b", 1, 2_500, 2_500),
        ]

    def test_tiers_apply_to_the_total_quantity_of_a_sku_across_lines(self) -> None:
        lines = [RequestedLine("BRAKE-01", 3), RequestedLine("BRAKE-01", 2)]

        assert price_lines(lines, CATALOG, "usd") == [
            PricedLine("BRAKE-01", "ven_a", 5, 900, 4_500),
        ]

    def test_currencies_are_compared_without_regard_to_case(self) -> None:
        shouting = {"TYRE-700": CatalogItem("TYRE-700", "ven_b", 2_500, "USD")}

        assert price_lines([RequestedLine("TYRE-700", 1)], shouting, "usd") == [
            PricedLine("TYRE-700", "ven_b", 1, 2_500, 2_500),
        ]
        assert price_lines([RequestedLine("TYRE-700", 1)], CATALOG, "USD") == [
            PricedLine("TYRE-700", "ven_b", 1, 2_500, 2_500),
        ]

    def test_an_order_without_lines_is_refused(self) -> None:
        with pytest.raises(ValidationFailed, match="at least one line") as refused:
            price_lines([], CATALOG, "usd")
        assert refused.value.extra == {"field": "lines"}

    @pytest.mark.parametrize("quantity", [0, -1, 10_001])
    def test_a_line_quantity_must_be_between_1_and_10000(self, quantity: int) -> None:
        lines = [RequestedLine("TYRE-700", 1), RequestedLine("BRAKE-01", quantity)]

        with pytest.raises(ValidationFailed, match="between 1 and 10000") as refused:
            price_lines(lines, CATALOG, "usd")
        assert refused.value.extra == {"field": "lines", "skus": ["BRAKE-01"]}

    def test_the_boundary_quantities_are_accepted(self) -> None:
        priced = price_lines(
            [RequestedLine("TYRE-700", 1), RequestedLine("BRAKE-01", 10_000)], CATALOG, "usd"
        )

        assert [line.quantity for line in priced] == [1, 10_000]

    def test_a_sku_split_over_lines_cannot_exceed_10000_units_in_total(self) -> None:
        lines = [RequestedLine("BRAKE-01", 6_000), RequestedLine("BRAKE-01", 4_001)]

        with pytest.raises(ValidationFailed, match="at most 10000 units") as refused:
            price_lines(lines, CATALOG, "usd")
        assert refused.value.extra == {"field": "lines", "skus": ["BRAKE-01"]}

    def test_unknown_skus_are_all_named_in_the_refusal(self) -> None:
        lines = [
            RequestedLine("NOPE-1", 1),
            RequestedLine("TYRE-700", 1),
            RequestedLine("NOPE-2", 1),
            RequestedLine("NOPE-1", 1),
        ]

        with pytest.raises(ValidationFailed, match="unknown SKU: NOPE-1, NOPE-2") as refused:
            price_lines(lines, CATALOG, "usd")
        assert refused.value.extra == {"field": "lines", "skus": ["NOPE-1", "NOPE-2"]}

    def test_a_product_sold_in_another_currency_is_refused(self) -> None:
        lines = [RequestedLine("TYRE-700", 1), RequestedLine("BELL-EU", 1)]

        with pytest.raises(ValidationFailed, match="not sold in usd: BELL-EU") as refused:
            price_lines(lines, CATALOG, "usd")
        assert refused.value.extra == {"field": "currency", "skus": ["BELL-EU"]}

    @pytest.mark.parametrize("currency", ["", "us", "usdx", "u$d", "usd\n"])
    def test_an_order_currency_must_be_a_three_letter_code(self, currency: str) -> None:
        with pytest.raises(ValidationFailed, match="ISO 4217") as refused:
            price_lines([RequestedLine("TYRE-700", 1)], CATALOG, currency)
        assert refused.value.extra == {"field": "currency"}
