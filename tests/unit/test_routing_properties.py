"""Properties of routing that must hold for any stock, any order and any weights.

Either the shortages are exactly the SKUs whose total is short (and nothing is allocated), or
every line gets exactly its quantity, no warehouse gives more than it has, one warehouse ships
everything whenever one could, and a line is split only when no warehouse could fill it.
"""

from collections import Counter, defaultdict

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.postage import Point
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

PROPERTY = settings(max_examples=200, deadline=None)
SKUS = ["BOLT", "NUT", "WASHER"]

points = st.builds(
    Point,
    latitude=st.floats(-90, 90, allow_nan=False),
    longitude=st.floats(-180, 180, allow_nan=False),
)


@st.composite
def warehouses(draw: st.DrawFn) -> list[WarehouseStock]:
    count = draw(st.integers(1, 4))
    result = []
    for index in range(count):
        # A warehouse may not list a SKU at all, or list it with none free.
        levels = {sku: draw(st.integers(-3, 8)) for sku in SKUS}
        result.append(
            WarehouseStock(
                warehouse_id=f"wh_{index}",
                location=draw(points),
                available={sku: units for sku, units in levels.items() if units >= 0},
                ship_hours=draw(st.none() | st.floats(0, 200, allow_nan=False)),
            )
        )
    return result


@st.composite
def orders(draw: st.DrawFn) -> list[Need]:
    count = draw(st.integers(1, 5))
    line_nos = draw(st.lists(st.integers(1, 50), min_size=count, max_size=count, unique=True))
    needs = []
    for line_no in line_nos:
        # Mostly known SKUs, now and then one no warehouse has ever stocked.
        ghost = draw(st.integers(0, 29)) == 0
        sku = "GHOST" if ghost else draw(st.sampled_from(SKUS))
        needs.append(Need(line_no, sku, draw(st.integers(1, 6)), draw(st.integers(0, 3_000))))
    return needs


routing_weights = st.builds(
    RoutingWeights,
    distance=st.floats(0, 10, allow_nan=False),
    speed=st.floats(0, 10, allow_nan=False),
    cost=st.floats(0, 10, allow_nan=False),
    split_penalty=st.floats(0, 5_000, allow_nan=False),
    default_ship_hours=st.floats(0, 200, allow_nan=False),
)


def totals(needs: list[Need]) -> Counter[str]:
    requested: Counter[str] = Counter()
    for need in needs:
        requested[need.sku] += need.quantity
    return requested


@PROPERTY
@given(warehouses(), orders(), points, routing_weights)
def test_routing_allocates_every_line_exactly_or_reports_exactly_the_short_skus(
    stock: list[WarehouseStock], needs: list[Need], destination: Point, weights: RoutingWeights
) -> None:
    allocated, short = route(needs, stock, destination, weights)

    requested = totals(needs)
    held = {sku: sum(w.available.get(sku, 0) for w in stock) for sku in requested}
    expected_short = [
        Shortage(sku, requested[sku], held[sku])
        for sku in sorted(requested)
        if held[sku] < requested[sku]
    ]
    assert short == expected_short
    if short:
        assert allocated == []
        return

    # Every line gets exactly its quantity, in positive pieces of its own SKU.
    by_line: Counter[int] = Counter()
    for allocation in allocated:
        assert allocation.quantity >= 1
        by_line[allocation.line_no] += allocation.quantity
    assert by_line == Counter({need.line_no: need.quantity for need in needs})
    skus = {need.line_no: need.sku for need in needs}
    assert all(allocation.sku == skus[allocation.line_no] for allocation in allocated)

    # No warehouse gives more than it has of any SKU.
    given_out: Counter[tuple[str, str]] = Counter()
    for allocation in allocated:
        given_out[allocation.warehouse_id, allocation.sku] += allocation.quantity
    available = {w.warehouse_id: w.available for w in stock}
    for (warehouse_id, sku), quantity in given_out.items():
        assert quantity <= available[warehouse_id].get(sku, 0)

    # One parcel whenever one warehouse could fill everything: the best-scoring such one.
    fillers = [
        w for w in stock if all(w.available.get(sku, 0) >= q for sku, q in requested.items())
    ]
    if needs and fillers:
        grams = sum(need.quantity * need.weight_grams for need in needs)
        best = min(fillers, key=lambda w: (score(w, destination, grams, weights), w.warehouse_id))
        assert parcels(allocated) == 1
        assert {a.warehouse_id for a in allocated} == {best.warehouse_id}


@PROPERTY
@given(warehouses(), orders(), points, routing_weights)
def test_a_line_is_split_only_when_no_warehouse_could_fill_it_and_parcels_going_are_reused(
    stock: list[WarehouseStock], needs: list[Need], destination: Point, weights: RoutingWeights
) -> None:
    allocated, short = route(needs, stock, destination, weights)
    if short:
        return

    # Replay the allocations line by line (they come in line_no order) to know what was free.
    free = {w.warehouse_id: dict(w.available) for w in stock}
    used: set[str] = set()
    pieces: defaultdict[int, list[Allocated]] = defaultdict(list)
    for allocation in allocated:
        pieces[allocation.line_no].append(allocation)
    assert [a.line_no for a in allocated] == sorted(a.line_no for a in allocated)
    for need in sorted(needs, key=lambda n: n.line_no):
        could_fill = {w for w, levels in free.items() if levels.get(need.sku, 0) >= need.quantity}
        line = pieces[need.line_no]
        if len(line) > 1:
            assert could_fill == set()
        else:
            chosen = line[0].warehouse_id
            # A warehouse already shipping a parcel is preferred when it can fill the line.
            if could_fill & used:
                assert chosen in used
        for piece in line:
            free[piece.warehouse_id][piece.sku] -= piece.quantity
            used.add(piece.warehouse_id)


@PROPERTY
@given(warehouses(), orders(), points, routing_weights)
def test_the_route_does_not_depend_on_the_order_of_lines_or_warehouses(
    stock: list[WarehouseStock], needs: list[Need], destination: Point, weights: RoutingWeights
) -> None:
    forward = route(needs, stock, destination, weights)

    assert route(list(reversed(needs)), list(reversed(stock)), destination, weights) == forward
