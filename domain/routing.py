"""Which of a vendor's warehouses ship each line of an order.

Routing works on ONE vendor's lines at a time and is all-or-nothing: when the vendor's stock
of a SKU, summed over all its warehouses and over every line of that SKU, is short, it reports
shortages and allocates nothing, so a reservation never holds half an order.

Otherwise it chooses by a score (lower is better) for shipping ``weight_grams`` from a warehouse
to the destination::

    score = weights.distance * km + weights.speed * hours + weights.cost * shipping_cents

``km`` is the great-circle (haversine) distance, ``hours`` the warehouse's measured average time
from order to shipment (``weights.default_ship_hours`` when it has not been measured yet, so a
new warehouse is neither favoured nor punished), and ``shipping_cents`` is the postage estimate
for that distance and weight (:func:`domain.postage.estimate_shipping_cents`). A plan of several
parcels costs the sum of its parcels' scores plus ``weights.split_penalty`` per parcel beyond
the first.

1. One warehouse that can fill every line ships everything (one parcel): the lowest score for
   the whole order's weight, ties to the lowest ``warehouse_id``.
2. Otherwise lines are taken in ``line_no`` order, each priced by how much it raises the plan's
   cost (a warehouse already shipping a parcel only adds the extra postage for the weight):

   - a line goes whole to a warehouse already chosen that can fill it; failing that, to the
     warehouse that can fill it at the lowest score, ties to the lowest id;
   - only when no warehouse can fill it alone is it split: repeatedly, the warehouse whose
     contribution costs least is taken for as many units as it has, where a contribution that
     leaves units unfilled also counts one ``split_penalty`` for the parcel still to come
     (ties: the larger contribution, then the lowest id).

   This is greedy, not globally optimal; it never allocates more than a warehouse has and
   always allocates every line exactly its quantity, because the totals were checked first.

The result does not depend on the order of ``needs`` or ``warehouses``: lines are taken by
``line_no`` and every tie is broken by ``warehouse_id``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from domain.errors import ValidationFailed
from domain.number_checks import not_negative
from domain.postage import Point, distance_km, estimate_shipping_cents


@dataclass(frozen=True)
class WarehouseStock:
    warehouse_id: str
    location: Point
    available: Mapping[str, int]  # sku -> units free (on_hand - reserved), >= 0
    ship_hours: float | None = None  # measured average hours from order to shipment

    def __post_init__(self) -> None:
        for sku, units in self.available.items():
            # Negative free stock means the reservation books are already wrong: say so rather
            # than route around it.
            if units < 0:
                raise ValidationFailed(
                    f"warehouse {self.warehouse_id} has {units} units of {sku} available; "
                    "available stock is never negative",
                    field="available",
                )
        if self.ship_hours is not None:
            not_negative(self.ship_hours, "ship_hours")


@dataclass(frozen=True)
class RoutingWeights:
    """How much each criterion counts; all >= 0. Set from settings.

    With the defaults one km costs 1 point, one hour of shipping time 2 points, one cent of
    estimated postage 1 point, and each extra parcel 500 points (about 500 km or 250 hours).
    """

    distance: float = 1.0  # per km
    speed: float = 2.0  # per hour of measured shipping time
    cost: float = 1.0  # per cent of estimated shipping cost
    split_penalty: float = 500.0  # per extra parcel (so one parcel wins unless much worse)
    default_ship_hours: float = 24.0  # the hours of a warehouse not measured yet

    def __post_init__(self) -> None:
        for field in ("distance", "speed", "cost", "split_penalty", "default_ship_hours"):
            not_negative(getattr(self, field), field)


@dataclass(frozen=True)
class Need:
    line_no: int
    sku: str
    quantity: int
    weight_grams: int = 0  # of ONE unit, so a line split across parcels splits its weight

    def __post_init__(self) -> None:
        if self.quantity < 1:
            raise ValidationFailed(
                f"line {self.line_no} must order at least one unit, got {self.quantity}",
                field="quantity",
            )
        if self.weight_grams < 0:
            raise ValidationFailed(
                f"line {self.line_no} has a negative weight ({self.weight_grams} g)",
                field="weight_grams",
            )


@dataclass(frozen=True)
class Allocated:
    line_no: int
    sku: str
    warehouse_id: str
    quantity: int


@dataclass(frozen=True)
class Shortage:
    sku: str
    requested: int
    available: int


def score(
    warehouse: WarehouseStock,
    destination: Point,
    weight_grams: int,
    weights: RoutingWeights = RoutingWeights(),
) -> float:
    """The cost of one parcel of ``weight_grams`` from ``warehouse``; lower is better."""
    km = distance_km(warehouse.location, destination)
    hours = weights.default_ship_hours if warehouse.ship_hours is None else warehouse.ship_hours
    cents = estimate_shipping_cents(km, weight_grams)
    return weights.distance * km + weights.speed * hours + weights.cost * cents


def parcels(allocations: Sequence[Allocated]) -> int:
    """How many parcels the allocations make: one per distinct warehouse."""
    return len({allocation.warehouse_id for allocation in allocations})


def postage_cents(
    allocations: Sequence[Allocated],
    weight_grams: Mapping[str, int],
    origins: Mapping[str, Point],
    destination: Point | None,
) -> int:
    """Estimated postage of the parcels the allocations make (one per warehouse), each
    priced by :func:`estimate_shipping_cents` from its weight and its distance to the buyer
    (0 km without an address). What checkout charges for shipping."""
    grams: dict[str, int] = {}
    for allocation in allocations:
        grams[allocation.warehouse_id] = grams.get(
            allocation.warehouse_id, 0
        ) + allocation.quantity * weight_grams.get(allocation.sku, 0)
    total = 0
    for warehouse_id in sorted(grams):
        km = 0.0 if destination is None else distance_km(origins[warehouse_id], destination)
        total += estimate_shipping_cents(km, grams[warehouse_id])
    return total


def shortages(needs: Sequence[Need], warehouses: Sequence[WarehouseStock]) -> list[Shortage]:
    """SKUs whose requested total (over all lines) exceeds the total free stock, by SKU."""
    requested: dict[str, int] = {}
    for need in needs:
        requested[need.sku] = requested.get(need.sku, 0) + need.quantity
    result = []
    for sku in sorted(requested):
        held = sum(warehouse.available.get(sku, 0) for warehouse in warehouses)
        if held < requested[sku]:
            result.append(Shortage(sku, requested[sku], held))
    return result


def route(
    needs: Sequence[Need],
    warehouses: Sequence[WarehouseStock],
    destination: Point,
    weights: RoutingWeights = RoutingWeights(),
) -> tuple[list[Allocated], list[Shortage]]:
    """Allocations in ``line_no`` order, or (``[]``, shortages by SKU); see the module rules."""
    _check_unique(needs, warehouses)
    short = shortages(needs, warehouses)
    if short:
        return [], short
    lines = sorted(needs, key=lambda need: need.line_no)
    if not lines:
        return [], []
    by_id = sorted(warehouses, key=lambda warehouse: warehouse.warehouse_id)

    whole_order = [w for w in by_id if _can_fill_all(w, lines)]
    if whole_order:
        total_grams = sum(need.quantity * need.weight_grams for need in lines)
        # min() keeps the first of equal scores, and by_id is sorted: ties go to the lowest id.
        best = min(whole_order, key=lambda w: score(w, destination, total_grams, weights))
        return [
            Allocated(need.line_no, need.sku, best.warehouse_id, need.quantity) for need in lines
        ], []

    plan = _Plan(by_id, destination, weights)
    for need in lines:
        plan.place(need)
    return plan.allocations, []


def _check_unique(needs: Sequence[Need], warehouses: Sequence[WarehouseStock]) -> None:
    # Allocations and reservations are keyed by line and by warehouse: a repeat is ambiguous.
    line_nos = [need.line_no for need in needs]
    if len(set(line_nos)) != len(line_nos):
        raise ValidationFailed("two lines share a line_no", field="line_no")
    ids = [warehouse.warehouse_id for warehouse in warehouses]
    if len(set(ids)) != len(ids):
        raise ValidationFailed("two warehouses share a warehouse_id", field="warehouse_id")


def _can_fill_all(warehouse: WarehouseStock, lines: Sequence[Need]) -> bool:
    requested: dict[str, int] = {}
    for need in lines:
        requested[need.sku] = requested.get(need.sku, 0) + need.quantity
    return all(warehouse.available.get(sku, 0) >= qty for sku, qty in requested.items())


class _Plan:
    """The parcels chosen so far and the stock left, while lines are placed one by one."""

    def __init__(
        self, warehouses: Sequence[WarehouseStock], destination: Point, weights: RoutingWeights
    ) -> None:
        self.warehouses = warehouses  # sorted by id, so iteration order breaks ties
        self.destination = destination
        self.weights = weights
        self.km = {w.warehouse_id: distance_km(w.location, destination) for w in warehouses}
        self.free = {w.warehouse_id: dict(w.available) for w in warehouses}
        self.parcel_grams: dict[str, int] = {}  # chosen warehouse -> weight it ships
        self.allocations: list[Allocated] = []

    def added_cost(self, warehouse: WarehouseStock, grams: int) -> float:
        """How much shipping ``grams`` more from ``warehouse`` raises the plan's cost."""
        wid = warehouse.warehouse_id
        if wid in self.parcel_grams:
            # The parcel is going anyway: only the postage for the extra weight is new.
            before = self.parcel_grams[wid]
            km = self.km[wid]
            extra = estimate_shipping_cents(km, before + grams) - estimate_shipping_cents(
                km, before
            )
            return self.weights.cost * extra
        penalty = self.weights.split_penalty if self.parcel_grams else 0.0
        return score(warehouse, self.destination, grams, self.weights) + penalty

    def place(self, need: Need) -> None:
        whole = [
            w
            for w in self.warehouses
            if self.free[w.warehouse_id].get(need.sku, 0) >= need.quantity
        ]
        if whole:
            grams = need.quantity * need.weight_grams
            # A parcel already going wins outright (fewest parcels); then the lowest cost.
            best = min(
                whole,
                key=lambda w: (
                    w.warehouse_id not in self.parcel_grams,
                    self.added_cost(w, grams),
                ),
            )
            self._take(best, need, need.quantity)
            return
        remaining = need.quantity
        while remaining:
            options = []
            for w in self.warehouses:
                take = min(self.free[w.warehouse_id].get(need.sku, 0), remaining)
                if take <= 0:
                    continue
                cost = self.added_cost(w, take * need.weight_grams)
                if take < remaining:
                    # Leaving units unfilled means at least one more parcel somewhere.
                    cost += self.weights.split_penalty
                opens = w.warehouse_id not in self.parcel_grams
                options.append((cost, opens, -take, w.warehouse_id, w, take))
            # The shortage check guarantees stock for every line, so options is never empty.
            _, _, _, _, best, take = min(options, key=lambda option: option[:4])
            self._take(best, need, take)
            remaining -= take

    def _take(self, warehouse: WarehouseStock, need: Need, quantity: int) -> None:
        wid = warehouse.warehouse_id
        self.free[wid][need.sku] -= quantity
        self.parcel_grams[wid] = self.parcel_grams.get(wid, 0) + quantity * need.weight_grams
        self.allocations.append(Allocated(need.line_no, need.sku, wid, quantity))
