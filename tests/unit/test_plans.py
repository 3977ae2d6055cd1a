"""Each vendor's part of a confirmed order (domain/plans.py): its ids, commission and payout,
the unit prices its returns are refunded at, its ship SLA, and the units it sold."""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import given
from hypothesis import strategies as st

from domain.ids import vendor_order_id, vendor_order_workflow_id
from domain.plans import plan_vendor_orders, units_sold
from domain.pricing import PricedLine
from domain.splitting import split_by_vendor

BRAKES = PricedLine("BRAKE-01", "ven_a", 3, 2_000, 6_000)
PADS = PricedLine("PADS-02", "ven_a", 2, 450, 900)
TYRE = PricedLine("TYRE-700", "ven_b", 1, 4_999, 4_999)
RATES = {"BRAKE-01": 1_000, "PADS-02": 1_000, "TYRE-700": 1_500}


@dataclass(frozen=True)
class Units:
    sku: str
    quantity: int


def test_each_vendor_gets_one_plan_under_the_orders_ids_for_that_vendor() -> None:
    plans = plan_vendor_orders("ord_1", split_by_vendor([BRAKES, TYRE, PADS]), RATES, {})
    assert [p.vendor_id for p in plans] == ["ven_a", "ven_b"]
    assert plans[0].vendor_order_id == vendor_order_id("ord_1", "ven_a")
    assert plans[1].workflow_id == vendor_order_workflow_id("ord_1", "ven_b")


def test_a_vendor_is_paid_its_goods_and_postage_less_the_commission_on_its_goods() -> None:
    splits = split_by_vendor([BRAKES, PADS, TYRE], {"ven_a": 600})
    [brakes, tyre] = plan_vendor_orders("ord_1", splits, RATES, {})
    # 10% of 69.00 of goods; the 6.00 of postage is the vendor's, without commission
    assert (brakes.subtotal_cents, brakes.shipping_cents) == (6_900, 600)
    assert (brakes.commission_cents, brakes.payout_cents) == (690, 6_810)
    # 15% of 49.99 is 7.4985: rounded half up to the cent
    assert (tyre.commission_bps, tyre.commission_cents, tyre.payout_cents) == (1_500, 750, 4_249)


def test_returns_are_priced_at_what_each_unit_was_charged_and_slas_are_per_vendor() -> None:
    plans = plan_vendor_orders(
        "ord_1", split_by_vendor([BRAKES, PADS, TYRE]), RATES, {"ven_b": 86_400.0}
    )
    assert plans[0].unit_prices == {"BRAKE-01": 2_000, "PADS-02": 450}
    assert [p.ship_sla_seconds for p in plans] == [None, 86_400.0]


def test_units_sold_are_counted_per_sku_across_the_warehouses_they_ship_from() -> None:
    allocations = [Units("PADS-02", 1), Units("BRAKE-01", 2), Units("PADS-02", 1)]
    assert units_sold(allocations) == [("BRAKE-01", 2), ("PADS-02", 2)]


lines = st.lists(
    st.builds(
        lambda sku, vendor, quantity, unit: PricedLine(
            sku, vendor, quantity, unit, quantity * unit
        ),
        st.sampled_from(sorted(RATES)),
        st.sampled_from(["ven_a", "ven_b", "ven_c"]),
        st.integers(1, 50),
        st.integers(1, 100_000),
    ),
    min_size=1,
    max_size=8,
)


@given(lines, st.integers(0, 5_000))
def test_every_cent_charged_is_either_a_payout_or_commission(
    priced: list[PricedLine], postage: int
) -> None:
    splits = split_by_vendor(priced, {priced[0].vendor_id: postage})
    plans = plan_vendor_orders("ord_1", splits, RATES, {})
    charged = sum(line.line_total_cents for line in priced) + postage
    assert sum(p.payout_cents + p.commission_cents for p in plans) == charged
