"""Properties that must hold for every order: no cent is created or lost.

For random orders over several vendors, lines and tiers, random commission rates, labels and
returns (some units, all units, or a whole vendor order cancelled), what the customer was
charged is exactly what was refunded plus what vendors are paid plus commission plus labels.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.durations import format_duration, parse_duration
from domain.money import allocate
from domain.payout import PayoutBreakdown, payout_breakdown
from domain.pricing import (
    CatalogItem,
    PricedLine,
    PriceTier,
    RequestedLine,
    price_lines,
    validate_tiers,
)
from domain.refunds import refund_of_units_after
from domain.splitting import VendorSplit, order_totals, split_by_vendor

PROPERTY = settings(max_examples=200, deadline=None)


@st.composite
def tiers_for(draw: st.DrawFn, base_price: int) -> tuple[PriceTier, ...]:
    drawn = draw(
        st.lists(
            st.tuples(st.integers(2, 60), st.integers(0, base_price)),
            unique_by=lambda tier: tier[0],
            max_size=3,
        )
    )
    # Any thresholds with any prices at or below the base, made non-increasing.
    thresholds = sorted(quantity for quantity, _ in drawn)
    prices = sorted((price for _, price in drawn), reverse=True)
    pairs = zip(thresholds, prices, strict=True)
    return validate_tiers(base_price, [PriceTier(q, p) for q, p in pairs])


@st.composite
def catalogs(draw: st.DrawFn) -> dict[str, CatalogItem]:
    # The catalog may spell the currency in capitals; orders are always in lower case.
    currency = draw(st.sampled_from(["usd", "USD"]))
    products_per_vendor = draw(st.lists(st.integers(1, 3), min_size=1, max_size=4))
    catalog: dict[str, CatalogItem] = {}
    for vendor, product_count in enumerate(products_per_vendor):
        for product in range(product_count):
            base = draw(st.integers(0, 100_000))
            sku = f"SKU-{vendor}-{product}"
            catalog[sku] = CatalogItem(
                sku=sku,
                vendor_id=f"ven_{vendor}",
                price_cents=base,
                currency=currency,
                tiers=draw(tiers_for(base)),
            )
    return catalog


@dataclass(frozen=True)
class Scenario:
    splits: list[VendorSplit]
    commission_bps: dict[str, int]
    label_cost: dict[str, int]
    # Per vendor: units returned per line, as a list of successive returns.
    returns: dict[str, list[list[int]]]
    shipping_refunded: dict[str, bool]


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    catalog = draw(catalogs())
    skus = list(catalog)
    requested = draw(
        st.lists(
            st.builds(RequestedLine, st.sampled_from(skus), st.integers(1, 40)),
            min_size=1,
            max_size=8,
        )
    )
    priced = price_lines(requested, catalog, "usd")
    vendors = list(dict.fromkeys(line.vendor_id for line in priced))
    shipping = {vendor: draw(st.integers(0, 3_000)) for vendor in vendors}
    splits = split_by_vendor(priced, shipping)
    returns: dict[str, list[list[int]]] = {}
    shipping_refunded: dict[str, bool] = {}
    for split in splits:
        cancelled = draw(st.booleans())
        shipping_refunded[split.vendor_id] = cancelled
        per_line: list[list[int]] = []
        for line in split.lines:
            units = line.quantity if cancelled else draw(st.integers(0, line.quantity))
            per_line.append(_in_batches(draw, units))
        returns[split.vendor_id] = per_line
    return Scenario(
        splits=splits,
        commission_bps={v: draw(st.integers(0, 10_000)) for v in vendors},
        label_cost={v: draw(st.sampled_from([0, 0, 1, 599, 50_000])) for v in vendors},
        returns=returns,
        shipping_refunded=shipping_refunded,
    )


def _in_batches(draw: Callable[[st.SearchStrategy[int]], int], units: int) -> list[int]:
    batches = []
    while units:
        batch = draw(st.integers(1, units))
        batches.append(batch)
        units -= batch
    return batches


def _breakdown(scenario: Scenario, split: VendorSplit) -> PayoutBreakdown:
    refunded_goods = 0
    for line, batches in zip(split.lines, scenario.returns[split.vendor_id], strict=True):
        already = 0
        for units in batches:
            refunded_goods += refund_of_units_after(line, already, units)
            already += units
    return payout_breakdown(
        subtotal_cents=split.subtotal_cents,
        shipping_cents=split.shipping_cents,
        commission_bps=scenario.commission_bps[split.vendor_id],
        refunded_goods_cents=refunded_goods,
        refunded_shipping_cents=(
            split.shipping_cents if scenario.shipping_refunded[split.vendor_id] else 0
        ),
        label_cost_cents=scenario.label_cost[split.vendor_id],
    )


@PROPERTY
@given(scenarios())
def test_every_cent_charged_is_refunded_paid_out_or_kept_as_commission_or_label(
    scenario: Scenario,
) -> None:
    _, _, total_charged = order_totals(scenario.splits)
    breakdowns = [_breakdown(scenario, split) for split in scenario.splits]

    accounted = sum(
        b.refunded_cents + b.payout_cents + b.commission_cents + b.label_cost_cents
        for b in breakdowns
    )

    assert accounted == total_charged
    for breakdown, split in zip(breakdowns, scenario.splits, strict=True):
        assert breakdown.payout_cents >= 0
        assert 0 <= breakdown.label_cost_cents <= scenario.label_cost[split.vendor_id]
        if scenario.shipping_refunded[split.vendor_id]:
            # Cancelled in full: the customer gets everything back, the platform takes nothing.
            assert breakdown.refunded_cents == split.subtotal_cents + split.shipping_cents
            assert (breakdown.commission_cents, breakdown.payout_cents) == (0, 0)


@PROPERTY
@given(catalog=catalogs(), data=st.data())
def test_each_sku_is_priced_at_the_tier_its_total_quantity_reaches(
    catalog: dict[str, CatalogItem], data: st.DataObject
) -> None:
    requested = data.draw(
        st.lists(
            st.builds(RequestedLine, st.sampled_from(list(catalog)), st.integers(1, 40)),
            min_size=1,
            max_size=8,
        ),
        label="requested",
    )

    priced = price_lines(requested, catalog, "usd")

    assert [line.sku for line in priced] == list(dict.fromkeys(r.sku for r in requested))
    for line in priced:
        item = catalog[line.sku]
        total_quantity = sum(r.quantity for r in requested if r.sku == line.sku)
        reached = [t for t in item.tiers if t.min_quantity <= total_quantity]
        expected_unit = reached[-1].price_cents if reached else item.price_cents
        assert (line.vendor_id, line.quantity) == (item.vendor_id, total_quantity)
        assert line.unit_price_cents == expected_unit
        assert line.line_total_cents == expected_unit * total_quantity
    assert order_totals(split_by_vendor(priced))[0] == sum(p.line_total_cents for p in priced)


@st.composite
def any_priced_lines(draw: st.DrawFn) -> PricedLine:
    # Line totals that need not divide by the quantity, as after a line discount.
    quantity = draw(st.integers(1, 60))
    return PricedLine(
        sku="SKU",
        vendor_id="ven",
        quantity=quantity,
        unit_price_cents=0,
        line_total_cents=draw(st.integers(0, 10_000_000)),
    )


@PROPERTY
@given(line=any_priced_lines(), data=st.data())
def test_refunding_units_in_any_batches_sums_to_refunding_them_at_once(
    line: PricedLine, data: st.DataObject
) -> None:
    units = data.draw(st.integers(0, line.quantity), label="units")
    batches = _in_batches(data.draw, units)

    refunds = []
    already = 0
    for batch in batches:
        refunds.append(refund_of_units_after(line, already, batch))
        already += batch

    assert sum(refunds) == refund_of_units_after(line, 0, units)
    assert all(refund >= 0 for refund in refunds)
    assert sum(refunds) <= line.line_total_cents


@PROPERTY
@given(line=any_priced_lines())
def test_refunding_units_one_at_a_time_refunds_exactly_the_line_total(line: PricedLine) -> None:
    one_by_one = [refund_of_units_after(line, already, 1) for already in range(line.quantity)]

    assert sum(one_by_one) == line.line_total_cents == refund_of_units_after(line, 0, line.quantity)


@PROPERTY
@given(
    total=st.integers(0, 10_000_000),
    weights=st.lists(st.integers(0, 1_000_000), min_size=1, max_size=12),
)
def test_allocation_always_sums_to_the_total_within_a_cent_of_each_share(
    total: int, weights: list[int]
) -> None:
    parts = allocate(total, weights)

    assert sum(parts) == total
    assert len(parts) == len(weights)
    effective = weights if sum(weights) else [1] * len(weights)
    for part, weight in zip(parts, effective, strict=True):
        exact = Fraction(total * weight, sum(effective))
        assert abs(part - exact) < 1


@PROPERTY
@given(st.timedeltas(min_value=timedelta(0)))
def test_a_formatted_duration_parses_back_to_itself(td: timedelta) -> None:
    assert parse_duration(format_duration(td)) == td
