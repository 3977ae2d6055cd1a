"""The ledger: a vendor order's money is derived from its movements, and the books balance."""

import pytest

from domain.errors import InvalidState, ValidationFailed
from domain.ledger import (
    EntryKind,
    Movement,
    VendorOrderMoney,
    VendorOrderTerms,
    order_balance,
    vendor_debt_outstanding,
    vendor_order_money,
)

# The worked example: 100.00 of goods, 5.00 shipping, 10 % commission.
TERMS = VendorOrderTerms(subtotal_cents=10_000, shipping_cents=500, commission_bps=1_000)
VO = "vo_1"


def charge(amount: int) -> Movement:
    return Movement(EntryKind.CHARGE, amount)


def refund(amount: int, goods: int | None = None, vendor_order: str = VO) -> Movement:
    return Movement(EntryKind.REFUND, amount, vendor_order, amount if goods is None else goods)


def move(kind: EntryKind, amount: int, vendor_order: str = VO) -> Movement:
    return Movement(kind, amount, vendor_order)


PAID_OUT = [move(EntryKind.TRANSFER, 9_500), move(EntryKind.COMMISSION, 1_000)]
REFUNDED_AFTER_PAYOUT = [*PAID_OUT, refund(2_000), move(EntryKind.COMMISSION, -200)]


class TestMovement:
    def test_a_kind_read_as_a_plain_string_becomes_the_entry_kind(self) -> None:
        movement = Movement("refund", 100, VO, 100)  # type: ignore[arg-type]

        assert movement.kind is EntryKind.REFUND

    def test_an_unknown_kind_is_refused(self) -> None:
        with pytest.raises(ValidationFailed) as caught:
            Movement("gift", 100)  # type: ignore[arg-type]

        assert caught.value.extra["field"] == "kind"

    @pytest.mark.parametrize("kind", [kind for kind in EntryKind if kind != EntryKind.COMMISSION])
    def test_no_movement_but_commission_may_be_negative(self, kind: EntryKind) -> None:
        with pytest.raises(ValidationFailed) as caught:
            Movement(kind, -1, VO)

        assert caught.value.extra["field"] == "amount_cents"

    def test_a_commission_adjustment_may_be_negative(self) -> None:
        assert Movement(EntryKind.COMMISSION, -200, VO).amount_cents == -200

    def test_the_goods_part_of_a_refund_cannot_exceed_the_refund(self) -> None:
        with pytest.raises(ValidationFailed) as caught:
            Movement(EntryKind.REFUND, 100, VO, refunded_goods_cents=101)

        assert caught.value.extra["field"] == "refunded_goods_cents"

    def test_only_a_refund_carries_refunded_goods(self) -> None:
        with pytest.raises(ValidationFailed):
            Movement(EntryKind.TRANSFER, 100, VO, refunded_goods_cents=10)

    @pytest.mark.parametrize("amount", [True, 1.5, "100"])
    def test_an_amount_that_is_not_whole_cents_is_refused(self, amount: object) -> None:
        with pytest.raises(ValidationFailed):
            Movement(EntryKind.TRANSFER, amount, VO)  # type: ignore[arg-type]


class TestVendorOrderMoney:
    def test_before_any_movement_the_vendor_is_owed_everything_but_the_commission(self) -> None:
        money = vendor_order_money(TERMS, [])

        assert money == VendorOrderMoney(
            refunded_cents=0,
            refunded_goods_cents=0,
            refunded_shipping_cents=0,
            commission_cents=1_000,
            payout_cents=9_500,
            transferred_cents=0,
            reversed_cents=0,
            net_transferred_cents=0,
            debt_cents=0,
            to_reverse_cents=0,
            refundable_cents=10_500,
            payout_status="pending",
        )
        assert money.unpaid_cents == 9_500
        assert money.commission_to_record_cents == 1_000

    def test_once_transferred_the_payout_is_released_and_nothing_is_due(self) -> None:
        money = vendor_order_money(TERMS, PAID_OUT)

        assert money.payout_status == "released"
        assert (money.transferred_cents, money.net_transferred_cents) == (9_500, 9_500)
        assert (money.unpaid_cents, money.to_reverse_cents) == (0, 0)
        assert money.commission_to_record_cents == 0

    def test_a_refund_before_payout_lowers_the_payout_and_the_commission(self) -> None:
        money = vendor_order_money(TERMS, [refund(2_000)])

        assert (money.commission_cents, money.payout_cents) == (800, 7_700)
        assert (money.refunded_cents, money.refundable_cents) == (2_000, 8_500)
        assert money.to_reverse_cents == 0
        assert money.payout_status == "pending"

    def test_a_refund_after_payout_must_take_back_the_vendors_share_of_it(self) -> None:
        # Worked example: the vendor gives back 1,800, the platform the 200 commission.
        money = vendor_order_money(TERMS, REFUNDED_AFTER_PAYOUT)

        assert (money.commission_cents, money.payout_cents) == (800, 7_700)
        assert money.to_reverse_cents == 1_800
        assert money.to_reverse_cents + (1_000 - money.commission_cents) == 2_000
        assert money.payout_status == "released"

    def test_once_reversed_nothing_is_left_to_reverse_and_the_payout_reads_reversed(
        self,
    ) -> None:
        money = vendor_order_money(
            TERMS, [*REFUNDED_AFTER_PAYOUT, move(EntryKind.TRANSFER_REVERSAL, 1_800)]
        )

        assert (money.reversed_cents, money.net_transferred_cents) == (1_800, 7_700)
        assert money.to_reverse_cents == 0
        assert money.payout_status == "reversed"

    def test_a_failed_reversal_recorded_as_debt_leaves_nothing_to_reverse(self) -> None:
        money = vendor_order_money(
            TERMS, [*REFUNDED_AFTER_PAYOUT, move(EntryKind.VENDOR_DEBT, 1_800)]
        )

        assert money.debt_cents == 1_800
        assert (money.to_reverse_cents, money.unpaid_cents) == (0, 0)
        assert money.payout_status == "reversed"

    def test_refunded_goods_and_shipping_are_told_apart(self) -> None:
        money = vendor_order_money(TERMS, [refund(10_000), refund(300, goods=0)])

        assert (money.refunded_goods_cents, money.refunded_shipping_cents) == (10_000, 300)
        assert (money.commission_cents, money.payout_cents) == (0, 200)
        assert money.refundable_cents == 200

    def test_commission_on_the_goods_kept_rounds_half_up(self) -> None:
        # 12.5 % of 0.99 kept is 12.375 cents: 12; of 1.00 it is 12.5: 13.
        terms = VendorOrderTerms(subtotal_cents=101, shipping_cents=0, commission_bps=1_250)

        assert vendor_order_money(terms, [refund(2)]).commission_cents == 12
        assert vendor_order_money(terms, [refund(1)]).commission_cents == 13

    def test_a_payout_that_settled_a_debt_counts_the_netted_part_as_paid(self) -> None:
        # Payout 4,500 on 5,000 of goods: 1,800 netted against a debt, 2,700 transferred.
        terms = VendorOrderTerms(subtotal_cents=5_000, shipping_cents=0, commission_bps=1_000)
        paid = [move(EntryKind.DEBT_SETTLED, 1_800), move(EntryKind.TRANSFER, 2_700)]

        money = vendor_order_money(terms, paid)

        assert (money.debt_settled_cents, money.paid_cents, money.unpaid_cents) == (1_800, 4_500, 0)
        assert money.payout_status == "released"

    def test_a_refund_after_a_netted_payout_takes_back_the_netted_part_too(self) -> None:
        terms = VendorOrderTerms(subtotal_cents=5_000, shipping_cents=0, commission_bps=1_000)
        paid = [move(EntryKind.DEBT_SETTLED, 1_800), move(EntryKind.TRANSFER, 2_700)]

        money = vendor_order_money(terms, [*paid, refund(5_000)])

        assert (money.payout_cents, money.to_reverse_cents) == (0, 4_500)

    def test_a_payout_wholly_netted_against_debt_reads_released_with_a_zero_transfer(
        self,
    ) -> None:
        paid = [move(EntryKind.DEBT_SETTLED, 9_500), move(EntryKind.TRANSFER, 0)]

        money = vendor_order_money(TERMS, paid)

        assert money.payout_status == "released"
        assert money.unpaid_cents == 0

    def test_a_label_dearer_than_what_is_left_is_recovered_only_up_to_it(self) -> None:
        terms = VendorOrderTerms(
            subtotal_cents=1_000, shipping_cents=0, commission_bps=1_000, label_cost_cents=650
        )

        money = vendor_order_money(terms, [refund(800)])

        assert (money.label_cost_cents, money.payout_cents) == (180, 0)

    def test_the_order_charge_among_the_movements_is_ignored(self) -> None:
        assert vendor_order_money(TERMS, [charge(10_500)]) == vendor_order_money(TERMS, [])

    def test_movements_of_two_vendor_orders_are_refused(self) -> None:
        with pytest.raises(ValidationFailed) as caught:
            vendor_order_money(TERMS, [refund(100), refund(100, vendor_order="vo_2")])

        assert caught.value.extra["vendor_order_ids"] == ["vo_1", "vo_2"]

    def test_refunds_beyond_what_was_charged_are_refused(self) -> None:
        with pytest.raises(ValidationFailed):
            vendor_order_money(TERMS, [refund(10_001)])

    def test_reversals_beyond_the_transfers_are_refused(self) -> None:
        with pytest.raises(ValidationFailed) as caught:
            vendor_order_money(
                TERMS, [move(EntryKind.TRANSFER, 100), move(EntryKind.TRANSFER_REVERSAL, 101)]
            )

        assert caught.value.extra["field"] == "movements"


class TestVendorDebtOutstanding:
    def test_a_vendor_without_debt_owes_nothing(self) -> None:
        assert vendor_debt_outstanding([move(EntryKind.TRANSFER, 9_500)]) == 0

    def test_debts_on_any_vendor_order_less_what_was_settled_are_outstanding(self) -> None:
        movements = [
            move(EntryKind.VENDOR_DEBT, 1_800, "vo_1"),
            move(EntryKind.VENDOR_DEBT, 300, "vo_2"),
            move(EntryKind.DEBT_SETTLED, 1_000, "vo_3"),
        ]

        assert vendor_debt_outstanding(movements) == 1_100

    def test_settling_more_than_was_owed_is_refused_not_hidden(self) -> None:
        movements = [
            move(EntryKind.VENDOR_DEBT, 100, "vo_1"),
            move(EntryKind.DEBT_SETTLED, 150, "vo_2"),
        ]

        with pytest.raises(InvalidState) as caught:
            vendor_debt_outstanding(movements)

        assert caught.value.extra["over_settled_cents"] == 50


class TestOrderBalance:
    def test_a_paid_out_order_balances(self) -> None:
        assert order_balance(10_500, [charge(10_500), *PAID_OUT], 0) == 0

    def test_before_payout_the_balance_is_what_the_vendor_is_owed_plus_its_commission(
        self,
    ) -> None:
        assert order_balance(10_500, [charge(10_500)], 0) == 9_500 + 1_000

    def test_a_refund_after_payout_balances_once_reversed_and_commission_adjusted(self) -> None:
        movements = [*REFUNDED_AFTER_PAYOUT, move(EntryKind.TRANSFER_REVERSAL, 1_800)]

        assert order_balance(10_500, movements, 0) == 0

    def test_until_the_reversal_is_made_the_balance_is_what_the_vendor_holds_too_much(
        self,
    ) -> None:
        assert order_balance(10_500, REFUNDED_AFTER_PAYOUT, 0) == -1_800

    def test_a_failed_reversal_recorded_as_debt_balances(self) -> None:
        movements = [*REFUNDED_AFTER_PAYOUT, move(EntryKind.VENDOR_DEBT, 1_800)]

        assert order_balance(10_500, movements, 0) == 0

    def test_an_order_whose_payout_settled_another_orders_debt_balances(self) -> None:
        # The next payout of 4,500 (5,000 less 500 commission) transfers 2,700, nets 1,800.
        movements = [
            charge(5_000),
            move(EntryKind.DEBT_SETTLED, 1_800, "vo_2"),
            move(EntryKind.TRANSFER, 2_700, "vo_2"),
            move(EntryKind.COMMISSION, 500, "vo_2"),
        ]

        assert order_balance(5_000, movements, 0) == 0

    def test_the_label_cost_recovered_from_the_payout_is_the_platforms(self) -> None:
        terms = VendorOrderTerms(
            subtotal_cents=10_000, shipping_cents=500, commission_bps=1_000, label_cost_cents=650
        )
        movements = [move(EntryKind.TRANSFER, 8_850), move(EntryKind.COMMISSION, 1_000)]
        label = vendor_order_money(terms, movements).label_cost_cents

        assert order_balance(10_500, movements, label) == 0

    def test_the_balance_of_any_order_is_what_is_unpaid_plus_commission_unrecorded(self) -> None:
        money = vendor_order_money(TERMS, [refund(2_000), move(EntryKind.COMMISSION, 300)])

        balance = order_balance(10_500, [refund(2_000), move(EntryKind.COMMISSION, 300)], 0)

        assert balance == money.unpaid_cents + money.commission_to_record_cents == 8_200
