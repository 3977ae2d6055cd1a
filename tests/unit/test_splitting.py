"""Splitting an order into one sub-order per vendor, and the ids those sub-orders get."""

import hashlib

import pytest

from domain.ids import (
    charge_idempotency_key,
    order_id_for_idempotency_key,
    order_workflow_id,
    payout_idempotency_key,
    refund_idempotency_key,
    request_fingerprint,
    vendor_order_id,
    vendor_order_workflow_id,
)
from domain.pricing import PricedLine
from domain.splitting import VendorSplit, order_totals, split_by_vendor

BRAKES = PricedLine("BRAKE-01", "ven_a", 2, 1_000, 2_000)
TYRE = PricedLine("TYRE-700", "ven_b", 1, 2_500, 2_500)
PADS = PricedLine("PADS-02", "ven_a", 3, 300, 900)


class TestSplitByVendor:
    def test_each_vendor_gets_one_split_in_order_of_first_appearance(self) -> None:
        splits = split_by_vendor([TYRE, BRAKES, PADS])

        assert splits == [
            VendorSplit("ven_b", (TYRE,), subtotal_cents=2_500, shipping_cents=0),
            VendorSplit("ven_a", (BRAKES, PADS), subtotal_cents=2_900, shipping_cents=0),
        ]

    def test_a_split_carries_the_shipping_given_for_its_vendor(self) -> None:
        splits = split_by_vendor([BRAKES, TYRE], {"ven_a": 499})

        assert [(s.vendor_id, s.shipping_cents, s.total_cents) for s in splits] == [
            ("ven_a", 499, 2_499),
            ("ven_b", 0, 2_500),
        ]

    def test_an_order_of_one_vendor_is_one_split(self) -> None:
        assert split_by_vendor([BRAKES]) == [VendorSplit("ven_a", (BRAKES,), 2_000, 0)]

    def test_no_lines_no_splits(self) -> None:
        assert split_by_vendor([]) == []

    def test_shipping_for_a_vendor_without_lines_is_refused(self) -> None:
        with pytest.raises(ValueError, match="ven_z"):
            split_by_vendor([BRAKES], {"ven_z": 500})

    def test_negative_shipping_is_refused(self) -> None:
        with pytest.raises(ValueError, match="negative"):
            split_by_vendor([BRAKES], {"ven_a": -1})


class TestOrderTotals:
    def test_the_total_is_the_subtotal_plus_shipping_over_every_vendor(self) -> None:
        splits = split_by_vendor([BRAKES, TYRE, PADS], {"ven_a": 500, "ven_b": 250})

        assert order_totals(splits) == (5_400, 750, 6_150)

    def test_an_empty_order_totals_zero(self) -> None:
        assert order_totals([]) == (0, 0, 0)


class TestDeterministicIds:
    """Ids of an order and its vendor sub-orders are derived, never drawn at random."""

    def test_an_order_workflow_is_named_after_its_order(self) -> None:
        assert order_workflow_id("ord_1") == "order-ord_1"

    def test_a_vendor_order_workflow_is_named_after_its_order_and_vendor(self) -> None:
        assert vendor_order_workflow_id("ord_1", "ven_a") == "order-ord_1-vendor-ven_a"

    def test_a_retried_checkout_maps_to_the_same_order(self) -> None:
        first = order_id_for_idempotency_key("platform", "checkout-42")

        assert first == order_id_for_idempotency_key("platform", "checkout-42")
        assert first == ("ord_" + hashlib.sha256(b"platform\0checkout-42").hexdigest()[:24])
        assert len(first) == 4 + 24

    def test_another_key_or_another_client_maps_to_another_order(self) -> None:
        ids = {
            order_id_for_idempotency_key("platform", "checkout-42"),
            order_id_for_idempotency_key("platform", "checkout-43"),
            order_id_for_idempotency_key("other", "checkout-42"),
            # Shifting characters across the separator is not the same request.
            order_id_for_idempotency_key("platformc", "heckout-42"),
        }

        assert len(ids) == 4

    def test_a_vendor_order_id_is_derived_from_the_order_and_the_vendor(self) -> None:
        expected = "vo_" + hashlib.sha256(b"ord_1\0ven_a").hexdigest()[:24]

        assert vendor_order_id("ord_1", "ven_a") == expected
        assert vendor_order_id("ord_1", "ven_b") != expected
        assert vendor_order_id("ord_2", "ven_a") != expected

    def test_a_fingerprint_ignores_key_order_and_whitespace(self) -> None:
        a = request_fingerprint({"currency": "usd", "lines": [{"sku": "A", "quantity": 1}]})
        b = request_fingerprint({"lines": [{"quantity": 1, "sku": "A"}], "currency": "usd"})

        assert a == b
        assert (
            a
            == hashlib.sha256(b'{"currency":"usd","lines":[{"quantity":1,"sku":"A"}]}').hexdigest()
        )

    def test_another_body_has_another_fingerprint(self) -> None:
        assert request_fingerprint({"lines": [1, 2]}) != request_fingerprint({"lines": [2, 1]})

    def test_a_body_that_is_not_plain_json_has_no_fingerprint(self) -> None:
        with pytest.raises(ValueError):
            request_fingerprint({"amount": float("nan")})
        with pytest.raises(TypeError):
            request_fingerprint({"when": object()})

    def test_provider_idempotency_keys_name_the_step(self) -> None:
        assert charge_idempotency_key("ord_1") == "ord_1:charge"
        assert payout_idempotency_key("vo_1") == "vo_1:payout"

    def test_a_refund_asked_again_after_a_kept_refusal_gets_a_key_of_its_own(self) -> None:
        first = refund_idempotency_key("vo_1:refund:cancel", 4000)
        assert first == "vo_1:refund:cancel:4000"
        again = [refund_idempotency_key("vo_1:refund:cancel", 4000, n) for n in range(1, 4)]
        assert len({first, *again}) == 4
        assert refund_idempotency_key("vo_1:refund:cancel", 3999) != first
