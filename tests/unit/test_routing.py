"""Routing a vendor's lines to its warehouses: stock first, then distance, speed and postage.

Warehouses sit due east of a customer on the equator, so their distance in km reads off the
test (one degree of longitude there is 2 * pi * 6371 / 360 km).
"""

import math

import pytest

from domain.errors import ValidationFailed
from domain.postage import Point, distance_km, estimate_shipping_cents
from domain.routing import (
    Allocated,
    Need,
    RoutingWeights,
    Shortage,
    WarehouseStock,
    parcels,
    route,
    score,
)

CUSTOMER = Point(0.0, 0.0)
KM_PER_DEGREE = 2 * math.pi * 6371.0 / 360


def east(km: float) -> Point:
    return Point(0.0, km / KM_PER_DEGREE)


def warehouse(
    warehouse_id: str, km: float, hours: float | None = None, **stock: int
) -> WarehouseStock:
    return WarehouseStock(warehouse_id, east(km), stock, hours)


class TestDistance:
    @pytest.mark.parametrize(
        ("a", "b", "published_km"),
        [
            (Point(40.7128, -74.0060), Point(34.0522, -118.2437), 3936),  # New York - Los Angeles
            (Point(51.5074, -0.1278), Point(48.8566, 2.3522), 344),  # London - Paris
            (Point(-33.8688, 151.2093), Point(-31.9505, 115.8605), 3291),  # Sydney - Perth
        ],
    )
    def test_great_circle_distance_of_known_city_pairs_is_within_one_percent(
        self, a: Point, b: Point, published_km: float
    ) -> None:
        assert distance_km(a, b) == pytest.approx(published_km, rel=0.01)
        assert distance_km(b, a) == pytest.approx(distance_km(a, b))

    def test_a_place_is_zero_km_from_itself(self) -> None:
        assert distance_km(CUSTOMER, CUSTOMER) == 0.0

    def test_antipodes_are_half_the_earth_apart(self) -> None:
        assert distance_km(Point(0.0, 0.0), Point(0.0, 180.0)) == pytest.approx(math.pi * 6371.0)

    def test_the_test_grid_reads_in_km(self) -> None:
        assert distance_km(CUSTOMER, east(95)) == pytest.approx(95)

    @pytest.mark.parametrize(("latitude", "longitude"), [(90.5, 0.0), (0.0, -181.0)])
    def test_a_point_off_the_globe_is_refused(self, latitude: float, longitude: float) -> None:
        with pytest.raises(ValidationFailed):
            Point(latitude, longitude)


class TestShippingEstimate:
    def test_base_plus_a_cent_per_ten_km_started_plus_a_dollar_per_kg_started(self) -> None:
        assert estimate_shipping_cents(0.0, 0) == 499
        assert estimate_shipping_cents(0.1, 1) == 499 + 1 + 100
        assert estimate_shipping_cents(3935.7, 2_500) == 499 + 394 + 300

    def test_it_never_falls_as_distance_grows(self) -> None:
        costs = [estimate_shipping_cents(km / 4, 1_200) for km in range(0, 40_000)]

        assert costs == sorted(costs)
        assert costs[-1] > costs[0]

    def test_it_never_falls_as_weight_grows(self) -> None:
        costs = [estimate_shipping_cents(250.0, grams) for grams in range(0, 20_000, 7)]

        assert costs == sorted(costs)
        assert costs[-1] > costs[0]

    def test_negative_distance_or_weight_is_refused(self) -> None:
        with pytest.raises(ValidationFailed):
            estimate_shipping_cents(-1.0, 0)
        with pytest.raises(ValidationFailed):
            estimate_shipping_cents(1.0, -1)


class TestScore:
    def test_a_warehouse_not_measured_yet_counts_the_default_hours(self) -> None:
        unmeasured = warehouse("wh_new", 95)
        measured_24h = warehouse("wh_old", 95, hours=24.0)

        assert score(unmeasured, CUSTOMER, 0) == score(measured_24h, CUSTOMER, 0)
        # 95 km + 2 * 24 h + (499 + 10) cents
        assert score(unmeasured, CUSTOMER, 0) == pytest.approx(95 + 48 + 509)


class TestOneWarehouse:
    def test_the_nearest_warehouse_wins_with_equal_stock(self) -> None:
        far = warehouse("wh_far", 605, BOLT=5)
        near = warehouse("wh_near", 95, BOLT=5)

        allocated, short = route([Need(1, "BOLT", 2)], [far, near], CUSTOMER)

        assert (allocated, short) == ([Allocated(1, "BOLT", "wh_near", 2)], [])

    def test_a_faster_warehouse_beats_a_slightly_nearer_slow_one(self) -> None:
        slow = warehouse("wh_slow", 95, hours=48.0, BOLT=5)
        fast = warehouse("wh_fast", 145, hours=12.0, BOLT=5)
        need = Need(1, "BOLT", 1, weight_grams=800)

        # slow: 95 km + 2 * 48 h + (499 + 10 + 100) cents = 800
        # fast: 145 km + 2 * 12 h + (499 + 15 + 100) cents = 783
        assert score(slow, CUSTOMER, 800) == pytest.approx(800)
        assert score(fast, CUSTOMER, 800) == pytest.approx(783)
        assert route([need], [slow, fast], CUSTOMER) == ([Allocated(1, "BOLT", "wh_fast", 1)], [])

    def test_speed_counts_as_much_as_the_weights_say(self) -> None:
        slow = warehouse("wh_slow", 95, hours=48.0, BOLT=5)
        fast = warehouse("wh_fast", 145, hours=12.0, BOLT=5)
        distance_only = RoutingWeights(speed=0.0)

        allocated, _ = route([Need(1, "BOLT", 1)], [slow, fast], CUSTOMER, distance_only)

        assert allocated == [Allocated(1, "BOLT", "wh_slow", 1)]

    def test_one_warehouse_that_fills_the_whole_order_beats_a_nearer_one_for_a_line(
        self,
    ) -> None:
        near = warehouse("wh_near", 5, BOLT=10)
        far = warehouse("wh_far", 805, BOLT=10, NUT=10)

        allocated, short = route([Need(1, "BOLT", 2), Need(2, "NUT", 3)], [near, far], CUSTOMER)

        assert short == []
        assert allocated == [
            Allocated(1, "BOLT", "wh_far", 2),
            Allocated(2, "NUT", "wh_far", 3),
        ]
        assert parcels(allocated) == 1

    def test_the_whole_order_is_scored_at_its_total_weight(self) -> None:
        # 2 units of 600 g and 1 of 900 g: 2.1 kg, so three kilograms started.
        only = warehouse("wh_only", 95, BOLT=5, NUT=5)
        needs = [Need(1, "BOLT", 2, weight_grams=600), Need(2, "NUT", 1, weight_grams=900)]

        assert route(needs, [only], CUSTOMER)[0] == [
            Allocated(1, "BOLT", "wh_only", 2),
            Allocated(2, "NUT", "wh_only", 1),
        ]
        assert score(only, CUSTOMER, 2_100) == pytest.approx(95 + 48 + 499 + 10 + 300)

    def test_equal_warehouses_tie_to_the_lowest_id_whatever_the_input_order(self) -> None:
        b = warehouse("wh_b", 95, BOLT=5)
        a = warehouse("wh_a", 95, BOLT=5)
        needs = [Need(2, "BOLT", 1), Need(1, "BOLT", 1)]
        expected = [Allocated(1, "BOLT", "wh_a", 1), Allocated(2, "BOLT", "wh_a", 1)]

        assert route(needs, [b, a], CUSTOMER) == (expected, [])
        assert route(list(reversed(needs)), [a, b], CUSTOMER) == (expected, [])


class TestSeveralWarehouses:
    def test_a_line_is_split_only_when_no_warehouse_can_fill_it_alone(self) -> None:
        near = warehouse("wh_near", 15, BOLT=6)
        far = warehouse("wh_far", 305, BOLT=7)

        allocated, short = route([Need(1, "BOLT", 10)], [far, near], CUSTOMER)

        assert short == []
        assert allocated == [
            Allocated(1, "BOLT", "wh_near", 6),
            Allocated(1, "BOLT", "wh_far", 4),
        ]
        assert sum(a.quantity for a in allocated) == 10

    def test_a_split_finishes_in_one_more_parcel_rather_than_two_nearer_ones(self) -> None:
        # After 6 units from wh_a, 4 remain: wh_far has them all; the nearer wh_c and wh_d
        # have 2 each and would make three parcels. The split penalty prices that third one.
        stock = [
            warehouse("wh_a", 15, BOLT=6),
            warehouse("wh_c", 95, BOLT=2),
            warehouse("wh_d", 115, BOLT=2),
            warehouse("wh_far", 305, BOLT=4),
        ]

        allocated, _ = route([Need(1, "BOLT", 10)], stock, CUSTOMER)

        assert allocated == [
            Allocated(1, "BOLT", "wh_a", 6),
            Allocated(1, "BOLT", "wh_far", 4),
        ]
        assert parcels(allocated) == 2

    def test_a_later_line_rides_in_a_parcel_already_going_rather_than_a_nearer_warehouse(
        self,
    ) -> None:
        # No warehouse holds all three SKUs, so this is the line-by-line rule.
        far = warehouse("wh_far", 805, BOLT=5, NUT=5)
        near = warehouse("wh_near", 5, NUT=5)
        washers = warehouse("wh_washers", 95, WASHER=5)
        needs = [Need(1, "BOLT", 1), Need(2, "NUT", 1), Need(3, "WASHER", 1)]

        allocated, _ = route(needs, [near, far, washers], CUSTOMER)

        assert allocated == [
            Allocated(1, "BOLT", "wh_far", 1),
            Allocated(2, "NUT", "wh_far", 1),
            Allocated(3, "WASHER", "wh_washers", 1),
        ]
        assert parcels(allocated) == 2

    def test_two_lines_of_one_sku_take_stock_in_turn_and_never_more_than_there_is(self) -> None:
        near = warehouse("wh_near", 15, BOLT=3)
        far = warehouse("wh_far", 305, BOLT=3)

        allocated, short = route([Need(1, "BOLT", 3), Need(2, "BOLT", 3)], [near, far], CUSTOMER)

        assert short == []
        assert allocated == [
            Allocated(1, "BOLT", "wh_near", 3),
            Allocated(2, "BOLT", "wh_far", 3),
        ]


class TestShortages:
    def test_a_short_sku_allocates_nothing_at_all(self) -> None:
        a = warehouse("wh_a", 15, BOLT=2, NUT=10)
        b = warehouse("wh_b", 305, BOLT=1)

        allocated, short = route([Need(1, "NUT", 1), Need(2, "BOLT", 5)], [a, b], CUSTOMER)

        assert allocated == []
        assert short == [Shortage("BOLT", requested=5, available=3)]

    def test_lines_of_the_same_sku_are_counted_together(self) -> None:
        a = warehouse("wh_a", 15, BOLT=3)
        b = warehouse("wh_b", 305, BOLT=2)

        allocated, short = route([Need(1, "BOLT", 3), Need(2, "BOLT", 3)], [a, b], CUSTOMER)

        assert allocated == []
        assert short == [Shortage("BOLT", requested=6, available=5)]

    def test_an_sku_no_warehouse_knows_is_short_with_nothing_available(self) -> None:
        a = warehouse("wh_a", 15, BOLT=3)

        allocated, short = route([Need(1, "GHOST", 1), Need(2, "BOLT", 1)], [a], CUSTOMER)

        assert allocated == []
        assert short == [Shortage("GHOST", requested=1, available=0)]

    def test_every_short_sku_is_reported_in_sku_order(self) -> None:
        allocated, short = route([Need(1, "NUT", 1), Need(2, "BOLT", 1)], [], CUSTOMER)

        assert allocated == []
        assert short == [Shortage("BOLT", 1, 0), Shortage("NUT", 1, 0)]

    def test_no_lines_route_to_nothing(self) -> None:
        assert route([], [warehouse("wh_a", 15, BOLT=3)], CUSTOMER) == ([], [])


class TestInvalidInput:
    @pytest.mark.parametrize("quantity", [0, -1])
    def test_a_line_of_no_or_negative_units_is_refused(self, quantity: int) -> None:
        with pytest.raises(ValidationFailed):
            Need(1, "BOLT", quantity)

    def test_a_negative_unit_weight_is_refused(self) -> None:
        with pytest.raises(ValidationFailed):
            Need(1, "BOLT", 1, weight_grams=-1)

    def test_negative_available_stock_is_refused(self) -> None:
        with pytest.raises(ValidationFailed):
            warehouse("wh_a", 15, BOLT=-1)

    def test_negative_measured_hours_are_refused(self) -> None:
        with pytest.raises(ValidationFailed):
            warehouse("wh_a", 15, hours=-1.0, BOLT=1)

    @pytest.mark.parametrize(
        "field", ["distance", "speed", "cost", "split_penalty", "default_ship_hours"]
    )
    def test_a_negative_or_endless_weight_is_refused(self, field: str) -> None:
        with pytest.raises(ValidationFailed):
            RoutingWeights(**{field: -0.5})
        with pytest.raises(ValidationFailed):
            RoutingWeights(**{field: math.inf})

    def test_two_lines_with_one_line_no_are_refused(self) -> None:
        with pytest.raises(ValidationFailed):
            route([Need(1, "BOLT", 1), Need(1, "NUT", 1)], [], CUSTOMER)

    def test_two_warehouses_with_one_id_are_refused(self) -> None:
        twins = [warehouse("wh_a", 15, BOLT=1), warehouse("wh_a", 305, BOLT=1)]

        with pytest.raises(ValidationFailed):
            route([Need(1, "BOLT", 1)], twins, CUSTOMER)


def test_parcels_count_distinct_warehouses() -> None:
    allocations = [
        Allocated(1, "BOLT", "wh_a", 1),
        Allocated(1, "BOLT", "wh_b", 1),
        Allocated(2, "NUT", "wh_a", 1),
    ]

    assert parcels(allocations) == 2
    assert parcels([]) == 0
