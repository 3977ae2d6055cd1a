"""Money arithmetic: one rounding rule, and splits that never lose a cent."""

import pickle

import pytest

from domain.commission import commission_cents
from domain.errors import (
    DomainError,
    ErrorCode,
    IdempotencyKeyReused,
    InsufficientStock,
    InvalidState,
    NotFound,
    PaymentDeclined,
    ValidationFailed,
)
from domain.money import allocate, div_round_half_up


class TestDivRoundHalfUp:
    def test_an_exact_quotient_is_returned_unchanged(self) -> None:
        assert div_round_half_up(300, 3) == 100

    def test_a_half_rounds_up(self) -> None:
        assert div_round_half_up(5, 10) == 1
        assert div_round_half_up(15, 10) == 2
        assert div_round_half_up(25, 10) == 3

    def test_less_than_a_half_rounds_down(self) -> None:
        assert div_round_half_up(14, 10) == 1
        assert div_round_half_up(1, 3) == 0

    def test_more_than_a_half_rounds_up(self) -> None:
        assert div_round_half_up(16, 10) == 2
        assert div_round_half_up(2, 3) == 1

    def test_zero_divided_is_zero(self) -> None:
        assert div_round_half_up(0, 7) == 0

    def test_huge_amounts_stay_exact(self) -> None:
        # Beyond 2**53 a float would already be off by whole cents.
        assert div_round_half_up(10**30 + 5, 10) == 10**29 + 1

    @pytest.mark.parametrize("denominator", [0, -1])
    def test_a_denominator_that_is_not_positive_is_refused(self, denominator: int) -> None:
        with pytest.raises(ValueError, match="denominator"):
            div_round_half_up(10, denominator)

    def test_a_negative_numerator_is_refused(self) -> None:
        with pytest.raises(ValueError, match="numerator"):
            div_round_half_up(-1, 10)


class TestCommission:
    def test_commission_is_the_rate_in_basis_points_of_the_goods(self) -> None:
        # 10 % of 123.40
        assert commission_cents(12_340, 1_000) == 1_234

    def test_commission_rounds_half_up_to_the_cent(self) -> None:
        # 10 % of 1.05 is 10.5 cents
        assert commission_cents(105, 1_000) == 11

    def test_commission_below_half_a_cent_rounds_down(self) -> None:
        # 2.5 % of 0.17 is 0.425 cents
        assert commission_cents(17, 250) == 0

    def test_a_zero_rate_takes_nothing(self) -> None:
        assert commission_cents(99_999, 0) == 0

    def test_a_full_rate_takes_exactly_the_goods(self) -> None:
        assert commission_cents(12_345, 10_000) == 12_345

    def test_no_goods_no_commission(self) -> None:
        assert commission_cents(0, 1_500) == 0

    @pytest.mark.parametrize("bps", [-1, 10_001])
    def test_a_rate_outside_0_to_100_percent_is_refused(self, bps: int) -> None:
        with pytest.raises(ValidationFailed) as refused:
            commission_cents(1_000, bps)
        assert refused.value.extra == {"field": "commission_bps"}

    def test_negative_goods_are_refused(self) -> None:
        with pytest.raises(ValueError, match="goods_cents"):
            commission_cents(-1, 1_000)


class TestAllocate:
    def test_an_even_split_gives_equal_parts(self) -> None:
        assert allocate(300, [1, 1, 1]) == [100, 100, 100]

    def test_parts_follow_the_weights(self) -> None:
        assert allocate(1_000, [1, 3]) == [250, 750]

    def test_leftover_cents_go_to_the_largest_remainders(self) -> None:
        # exact shares: 33.3, 16.6, 50.0 -> floors 33, 16, 50, one cent to the 0.6 remainder
        assert allocate(100, [2, 1, 3]) == [33, 17, 50]

    def test_ties_between_remainders_go_to_the_earliest_index(self) -> None:
        assert allocate(100, [1, 1, 1]) == [34, 33, 33]
        assert allocate(2, [1, 1, 1]) == [1, 1, 0]

    def test_a_zero_weight_gets_nothing(self) -> None:
        assert allocate(101, [0, 1, 1]) == [0, 51, 50]

    def test_all_zero_weights_split_equally_by_the_same_rule(self) -> None:
        assert allocate(10, [0, 0, 0]) == [4, 3, 3]

    def test_a_single_weight_takes_everything(self) -> None:
        assert allocate(12_345, [7]) == [12_345]

    def test_a_zero_total_allocates_zeros(self) -> None:
        assert allocate(0, [5, 0, 2]) == [0, 0, 0]

    def test_nothing_to_allocate_over_no_weights_is_empty(self) -> None:
        assert allocate(0, []) == []

    def test_a_total_cannot_be_allocated_over_no_weights(self) -> None:
        with pytest.raises(ValueError, match="no weights"):
            allocate(1, [])

    def test_a_negative_total_is_refused(self) -> None:
        with pytest.raises(ValueError, match="total_cents"):
            allocate(-1, [1])

    def test_a_negative_weight_is_refused(self) -> None:
        with pytest.raises(ValueError, match="weights"):
            allocate(10, [1, -1])


class TestErrors:
    @pytest.mark.parametrize(
        ("error", "code"),
        [
            (ValidationFailed("bad"), ErrorCode.VALIDATION_ERROR),
            (NotFound("missing"), ErrorCode.NOT_FOUND),
            (InvalidState("late"), ErrorCode.INVALID_STATE),
            (IdempotencyKeyReused("other body"), ErrorCode.IDEMPOTENCY_KEY_REUSED),
            (InsufficientStock([]), ErrorCode.INSUFFICIENT_STOCK),
            (PaymentDeclined("card_declined"), ErrorCode.PAYMENT_DECLINED),
        ],
    )
    def test_each_error_carries_its_stable_code(self, error: DomainError, code: ErrorCode) -> None:
        assert error.code == code

    def test_codes_are_the_strings_of_the_public_contract(self) -> None:
        # API.md's codes keep their strings and their statuses; the others (provider and
        # transport refusals) are the extensions proposed with them.
        from api.errors import STATUS_BY_CODE

        contract = {
            "unauthorized": 401,
            "forbidden": 403,
            "not_found": 404,
            "validation_error": 422,
            "insufficient_stock": 409,
            "payment_declined": 402,
            "invalid_state": 409,
            "idempotency_key_reused": 422,
            "rate_limited": 429,
        }
        assert {code: STATUS_BY_CODE[ErrorCode(code)] for code in contract} == contract

    def test_an_error_keeps_its_detail_and_code_specific_fields(self) -> None:
        error = ValidationFailed("quantity too large", field="lines", skus=["A"])

        assert error.detail == "quantity too large"
        assert str(error) == "quantity too large"
        assert error.extra == {"field": "lines", "skus": ["A"]}

    def test_insufficient_stock_lists_every_short_sku_and_says_so(self) -> None:
        error = InsufficientStock(
            [{"sku": "BRAKE-01", "requested": 2, "available": 1}],
        )

        assert error.extra == {"items": [{"sku": "BRAKE-01", "requested": 2, "available": 1}]}
        assert error.detail == "insufficient stock: BRAKE-01 (requested 2, available 1)"

    def test_payment_declined_carries_the_decline_code(self) -> None:
        error = PaymentDeclined("insufficient_funds")

        assert error.extra == {"decline_code": "insufficient_funds"}
        assert error.detail == "the payment was declined (insufficient_funds)"
        assert PaymentDeclined("expired_card", "Your card has expired.").detail == (
            "Your card has expired."
        )

    def test_an_error_survives_pickling_with_its_code_and_fields(self) -> None:
        error = InsufficientStock([{"sku": "A", "requested": 3, "available": 0}])

        copy = pickle.loads(pickle.dumps(error))

        assert type(copy) is InsufficientStock
        assert copy.code == ErrorCode.INSUFFICIENT_STOCK
        assert copy.detail == error.detail
        assert copy.extra == error.extra
