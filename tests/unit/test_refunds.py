"""Refund and payout decisions: goods first, fair attribution, reversals and netted debts."""

import pytest

from domain.errors import ValidationFailed
from domain.ledger import (
    EntryKind,
    Movement,
    VendorOrderTerms,
    order_balance,
    vendor_debt_outstanding,
    vendor_order_money,
)
from domain.payout import PayoutPlan, ReversalPlan, plan_payout, plan_reversal
from domain.pricing import PricedLine
from domain.refunds import (
    RefundShare,
    attribute_unnamed_refund,
    refund_for_units,
    share_outside_refund,
    split_refund,
)

TERMS = VendorOrderTerms(subtotal_cents=10_000, shipping_cents=500, commission_bps=1_000)
VO = "vo_1"


def refund(amount: int, goods: int | None = None, vendor_order: str = VO) -> Movement:
    return Movement(EntryKind.REFUND, amount, vendor_order, amount if goods is None else goods)


def move(kind: EntryKind, amount: int, vendor_order: str = VO) -> Movement:
    return Movement(kind, amount, vendor_order)


class TestSplitRefund:
    def test_a_refund_is_taken_from_the_goods_first(self) -> None:
        money = vendor_order_money(TERMS, [])

        assert split_refund(2_000, money, TERMS) == (2_000, 0)

    def test_only_what_goes_beyond_the_goods_left_comes_from_shipping(self) -> None:
        money = vendor_order_money(TERMS, [refund(9_000)])

        assert split_refund(1_200, money, TERMS) == (1_000, 200)

    def test_once_the_goods_are_all_back_a_refund_is_shipping(self) -> None:
        money = vendor_order_money(TERMS, [refund(10_000)])

        assert split_refund(500, money, TERMS) == (0, 500)

    def test_a_full_cancellation_refunds_goods_and_shipping(self) -> None:
        money = vendor_order_money(TERMS, [])

        assert split_refund(10_500, money, TERMS) == (10_000, 500)

    def test_a_refund_beyond_what_is_left_to_refund_is_refused(self) -> None:
        money = vendor_order_money(TERMS, [refund(10_000)])

        with pytest.raises(ValidationFailed) as caught:
            split_refund(501, money, TERMS)

        assert caught.value.extra["field"] == "amount_cents"
        assert caught.value.extra["refundable_cents"] == 500

    @pytest.mark.parametrize("amount", [0, -1])
    def test_a_refund_of_less_than_a_cent_is_refused(self, amount: int) -> None:
        with pytest.raises(ValidationFailed) as caught:
            split_refund(amount, vendor_order_money(TERMS, []), TERMS)

        assert caught.value.extra["field"] == "amount_cents"


class TestAttributeUnnamedRefund:
    def test_a_refund_is_shared_in_proportion_to_what_each_vendor_order_can_still_refund(
        self,
    ) -> None:
        shares = attribute_unnamed_refund(1_000, {"vo_a": 3_000, "vo_b": 1_000})

        assert shares == {"vo_a": 750, "vo_b": 250}

    def test_every_cent_is_attributed_and_a_tied_cent_goes_to_the_first_id(self) -> None:
        shares = attribute_unnamed_refund(101, {"vo_b": 500, "vo_a": 500})

        assert shares == {"vo_a": 51, "vo_b": 50}

    def test_the_attribution_does_not_depend_on_the_order_of_the_rows(self) -> None:
        one = attribute_unnamed_refund(1_001, {"vo_a": 700, "vo_b": 300, "vo_c": 301})
        other = attribute_unnamed_refund(1_001, {"vo_c": 301, "vo_b": 300, "vo_a": 700})

        assert one == other
        assert sum(one.values()) == 1_001

    def test_a_fully_refunded_vendor_order_gets_nothing(self) -> None:
        shares = attribute_unnamed_refund(400, {"vo_a": 0, "vo_b": 400})

        assert shares == {"vo_b": 400}

    def test_refunding_everything_left_gives_each_exactly_what_it_had(self) -> None:
        refundable = {"vo_a": 333, "vo_b": 667, "vo_c": 1}

        assert attribute_unnamed_refund(1_001, refundable) == refundable

    def test_more_than_the_order_can_refund_is_refused(self) -> None:
        with pytest.raises(ValidationFailed) as caught:
            attribute_unnamed_refund(1_001, {"vo_a": 500, "vo_b": 500})

        assert caught.value.extra["field"] == "amount_cents"
        assert caught.value.extra["refundable_cents"] == 1_000

    def test_an_order_without_vendor_orders_cannot_take_a_refund(self) -> None:
        with pytest.raises(ValidationFailed):
            attribute_unnamed_refund(1, {})

    def test_a_refund_of_nothing_is_refused(self) -> None:
        with pytest.raises(ValidationFailed):
            attribute_unnamed_refund(0, {"vo_a": 500})

    def test_a_negative_refundable_amount_is_refused(self) -> None:
        with pytest.raises(ValidationFailed) as caught:
            attribute_unnamed_refund(10, {"vo_a": 500, "vo_b": -1})

        assert caught.value.extra["vendor_order_ids"] == ["vo_b"]


class TestPlanPayout:
    def test_a_vendor_without_debt_is_transferred_its_whole_payout(self) -> None:
        plan = plan_payout(vendor_order_money(TERMS, []), 0)

        assert plan == PayoutPlan(transfer_cents=9_500, debt_settled_cents=0, payout_cents=9_500)

    def test_a_refund_before_payout_is_simply_paid_less(self) -> None:
        plan = plan_payout(vendor_order_money(TERMS, [refund(2_000)]), 0)

        assert plan == PayoutPlan(transfer_cents=7_700, debt_settled_cents=0, payout_cents=7_700)

    def test_the_vendors_debt_is_netted_against_its_next_payout(self) -> None:
        # Worked example: 1,800 owed from a failed reversal, next payout 5,000.
        terms = VendorOrderTerms(subtotal_cents=5_000, shipping_cents=0, commission_bps=0)

        plan = plan_payout(vendor_order_money(terms, []), 1_800)

        assert plan == PayoutPlan(
            transfer_cents=3_200, debt_settled_cents=1_800, payout_cents=5_000
        )

    def test_a_debt_larger_than_the_payout_is_netted_only_up_to_the_payout(self) -> None:
        plan = plan_payout(vendor_order_money(TERMS, []), 20_000)

        assert plan == PayoutPlan(transfer_cents=0, debt_settled_cents=9_500, payout_cents=9_500)

    def test_a_vendor_order_already_paid_is_not_paid_again(self) -> None:
        paid = [move(EntryKind.TRANSFER, 9_500)]

        plan = plan_payout(vendor_order_money(TERMS, paid), 1_800)

        assert plan == PayoutPlan(transfer_cents=0, debt_settled_cents=0, payout_cents=9_500)

    def test_an_overpaid_vendor_order_transfers_nothing_and_nets_nothing(self) -> None:
        paid = [move(EntryKind.TRANSFER, 9_500), refund(2_000)]

        plan = plan_payout(vendor_order_money(TERMS, paid), 1_800)

        assert plan == PayoutPlan(transfer_cents=0, debt_settled_cents=0, payout_cents=7_700)

    def test_a_payout_already_netted_transfers_only_the_rest(self) -> None:
        # The netting was recorded, the transfer not yet: a retry sends the same amount.
        netted = [move(EntryKind.DEBT_SETTLED, 1_800)]

        plan = plan_payout(vendor_order_money(TERMS, netted), 0)

        assert plan == PayoutPlan(transfer_cents=7_700, debt_settled_cents=0, payout_cents=9_500)

    def test_a_negative_debt_is_refused(self) -> None:
        with pytest.raises(ValidationFailed):
            plan_payout(vendor_order_money(TERMS, []), -1)


class TestPlanReversal:
    def test_nothing_is_reversed_before_the_payout(self) -> None:
        assert plan_reversal(vendor_order_money(TERMS, [refund(2_000)])) == ReversalPlan(0)

    def test_a_refund_after_payout_reverses_the_vendors_share_of_it(self) -> None:
        movements = [move(EntryKind.TRANSFER, 9_500), refund(2_000)]

        assert plan_reversal(vendor_order_money(TERMS, movements)) == ReversalPlan(1_800)

    def test_a_full_refund_after_payout_reverses_the_whole_transfer(self) -> None:
        movements = [move(EntryKind.TRANSFER, 9_500), refund(10_500, goods=10_000)]

        assert plan_reversal(vendor_order_money(TERMS, movements)) == ReversalPlan(9_500)

    def test_once_reversed_there_is_nothing_more_to_reverse(self) -> None:
        movements = [
            move(EntryKind.TRANSFER, 9_500),
            refund(2_000),
            move(EntryKind.TRANSFER_REVERSAL, 1_800),
        ]

        assert plan_reversal(vendor_order_money(TERMS, movements)) == ReversalPlan(0)

    def test_a_reversal_that_became_debt_is_not_tried_again(self) -> None:
        movements = [
            move(EntryKind.TRANSFER, 9_500),
            refund(2_000),
            move(EntryKind.VENDOR_DEBT, 1_800),
        ]

        assert plan_reversal(vendor_order_money(TERMS, movements)) == ReversalPlan(0)

    def test_a_second_refund_after_a_debt_reverses_only_its_own_share(self) -> None:
        movements = [
            move(EntryKind.TRANSFER, 9_500),
            refund(2_000),
            move(EntryKind.VENDOR_DEBT, 1_800),
            refund(1_000),
        ]

        assert plan_reversal(vendor_order_money(TERMS, movements)) == ReversalPlan(900)

    def test_what_was_netted_rather_than_transferred_becomes_debt_again(self) -> None:
        # Payout 9,500: 1,800 netted against a debt, 7,700 transferred; then all refunded.
        movements = [
            move(EntryKind.DEBT_SETTLED, 1_800),
            move(EntryKind.TRANSFER, 7_700),
            refund(10_500, goods=10_000),
        ]

        plan = plan_reversal(vendor_order_money(TERMS, movements))

        assert plan == ReversalPlan(reverse_cents=7_700, debt_cents=1_800)


LINES = [
    PricedLine(
        sku="BRAKE-01", vendor_id="ven_1", quantity=3, unit_price_cents=333, line_total_cents=1_000
    ),
    PricedLine(
        sku="TYRE-700",
        vendor_id="ven_1",
        quantity=1,
        unit_price_cents=2_500,
        line_total_cents=2_500,
    ),
]


class TestRefundForUnits:
    def test_returned_units_are_refunded_at_their_share_of_the_line(self) -> None:
        assert refund_for_units(LINES, {}, {"BRAKE-01": 1}) == 333

    def test_the_last_unit_back_takes_the_remainder(self) -> None:
        assert refund_for_units(LINES, {"BRAKE-01": 2}, {"BRAKE-01": 1}) == 334

    def test_units_of_several_lines_are_refunded_together(self) -> None:
        assert refund_for_units(LINES, {}, {"BRAKE-01": 2, "TYRE-700": 1}) == 666 + 2_500

    def test_returning_units_one_by_one_refunds_exactly_the_line(self) -> None:
        refunds = [refund_for_units(LINES, {"BRAKE-01": k}, {"BRAKE-01": 1}) for k in range(3)]

        assert refunds == [333, 333, 334]
        assert sum(refunds) == 1_000

    def test_an_unknown_sku_is_refused(self) -> None:
        with pytest.raises(ValidationFailed) as caught:
            refund_for_units(LINES, {}, {"CHAIN-9": 1})

        assert caught.value.extra["skus"] == ["CHAIN-9"]

    def test_more_units_than_are_left_to_refund_are_refused(self) -> None:
        with pytest.raises(ValidationFailed) as caught:
            refund_for_units(LINES, {"BRAKE-01": 2}, {"BRAKE-01": 2})

        assert caught.value.extra["field"] == "quantity"
        assert caught.value.extra["refundable"] == 1

    def test_a_sku_on_two_lines_is_refused(self) -> None:
        with pytest.raises(ValidationFailed) as caught:
            refund_for_units([LINES[0], LINES[0]], {}, {"BRAKE-01": 1})

        assert caught.value.extra["field"] == "lines"


class TestWorkedExample:
    """100.00 of goods and 5.00 shipping at 10 %, paid out, then 20.00 of goods refunded."""

    def test_a_refund_after_payout_whose_reversal_fails_is_recovered_from_the_next_payout(
        self,
    ) -> None:
        first = [Movement(EntryKind.CHARGE, 10_500)]
        plan = plan_payout(vendor_order_money(TERMS, first), 0)
        assert plan == PayoutPlan(transfer_cents=9_500, debt_settled_cents=0, payout_cents=9_500)
        first += [move(EntryKind.TRANSFER, 9_500), move(EntryKind.COMMISSION, 1_000)]

        # The buyer gets 20.00 back: 18.00 from the vendor, 2.00 of commission not earned.
        goods, shipping = split_refund(2_000, vendor_order_money(TERMS, first), TERMS)
        first.append(refund(2_000, goods))
        money = vendor_order_money(TERMS, first)
        assert (goods, shipping, money.commission_cents, money.payout_cents) == (
            2_000,
            0,
            800,
            7_700,
        )
        first.append(move(EntryKind.COMMISSION, money.commission_to_record_cents))
        assert plan_reversal(money) == ReversalPlan(reverse_cents=1_800)

        # The vendor's balance cannot cover the reversal: it owes the 18.00.
        first.append(move(EntryKind.VENDOR_DEBT, 1_800))
        money = vendor_order_money(TERMS, first)
        assert (money.to_reverse_cents, money.payout_status) == (0, "reversed")
        assert order_balance(10_500, first, 0) == 0

        # Its next payout, 50.00 on another order, transfers 32.00 and settles the 18.00.
        terms = VendorOrderTerms(subtotal_cents=5_000, shipping_cents=0, commission_bps=0)
        second = [Movement(EntryKind.CHARGE, 5_000, None)]
        plan = plan_payout(vendor_order_money(terms, second), vendor_debt_outstanding(first))
        assert plan == PayoutPlan(
            transfer_cents=3_200, debt_settled_cents=1_800, payout_cents=5_000
        )
        second += [
            move(EntryKind.DEBT_SETTLED, 1_800, "vo_2"),
            move(EntryKind.TRANSFER, 3_200, "vo_2"),
        ]

        assert vendor_debt_outstanding([*first, *second]) == 0
        assert order_balance(5_000, second, 0) == 0
        # The vendor holds exactly its two payouts: 77.00 + 50.00.
        held = 9_500 + 3_200
        assert held == vendor_order_money(TERMS, first).payout_cents + 5_000


class TestShareOutsideRefund:
    def test_an_unnamed_refund_shared_by_two_vendor_orders_names_each_share(self) -> None:
        shares = share_outside_refund("re_1", 1000, {"vo_a": 3000, "vo_b": 2000})

        assert shares == [
            RefundShare("vo_a", 600, "re_1:vo_a"),
            RefundShare("vo_b", 400, "re_1:vo_b"),
        ]

    def test_a_refund_one_vendor_order_takes_whole_is_named_by_the_stripe_id_alone(self) -> None:
        # The other vendor order has nothing left to refund (cancelled).
        shares = share_outside_refund("re_1", 1000, {"vo_a": 0, "vo_b": 2000})

        assert shares == [RefundShare("vo_b", 1000, "re_1")]

    def test_a_named_vendor_order_takes_it_all_up_to_what_it_can_refund(self) -> None:
        assert share_outside_refund("re_1", 900, {"vo_a": 3000, "vo_b": 500}, "vo_b") == [
            RefundShare("vo_b", 500, "re_1")
        ]

    def test_a_name_that_is_not_one_of_the_vendor_orders_is_shared_as_unnamed(self) -> None:
        assert share_outside_refund("re_1", 500, {"vo_a": 1000, "vo_b": 1000}, "vo_x") == [
            RefundShare("vo_a", 250, "re_1:vo_a"),
            RefundShare("vo_b", 250, "re_1:vo_b"),
        ]

    def test_nothing_is_shared_when_nothing_is_left_to_refund(self) -> None:
        assert share_outside_refund("re_1", 500, {"vo_a": 0, "vo_b": -5}) == []
