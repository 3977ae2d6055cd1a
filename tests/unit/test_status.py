"""Status rules: what a vendor order may do next, and what the order as a whole shows."""

import pytest

from domain.errors import ErrorCode, InvalidState
from domain.status import (
    OrderStatus,
    PayoutStatus,
    VendorOrderStatus,
    can_transition_vendor,
    ensure_vendor_transition,
    order_status_for,
)

V = VendorOrderStatus
ALLOWED = {
    (V.AWAITING_SHIPMENT, V.SHIPPED),
    (V.AWAITING_SHIPMENT, V.CANCELLED),
    (V.SHIPPED, V.DELIVERED),
    (V.DELIVERED, V.COMPLETED),
}
REFUSED = [(a, b) for a in V for b in V if (a, b) not in ALLOWED]


class TestStatusValues:
    def test_statuses_are_the_strings_of_the_public_contract(self) -> None:
        assert [s.value for s in OrderStatus] == [
            "pending",
            "confirmed",
            "in_fulfillment",
            "completed",
            "cancelled",
            "rejected",
        ]
        assert [s.value for s in VendorOrderStatus] == [
            "awaiting_shipment",
            "shipped",
            "delivered",
            "completed",
            "cancelled",
        ]
        assert [s.value for s in PayoutStatus] == ["pending", "released", "none", "reversed"]


class TestVendorTransitions:
    @pytest.mark.parametrize(("current", "target"), sorted(ALLOWED))
    def test_a_vendor_order_moves_forward_one_step(self, current: V, target: V) -> None:
        ensure_vendor_transition(current, target)

        assert can_transition_vendor(current, target) is True

    @pytest.mark.parametrize(("current", "target"), REFUSED)
    def test_every_other_move_is_an_invalid_state(self, current: V, target: V) -> None:
        with pytest.raises(InvalidState) as refused:
            ensure_vendor_transition(current, target)

        assert refused.value.code == ErrorCode.INVALID_STATE
        assert refused.value.extra == {"current": current.value, "target": target.value}
        assert can_transition_vendor(current, target) is False

    def test_a_shipped_parcel_can_no_longer_be_cancelled(self) -> None:
        with pytest.raises(InvalidState, match="cannot go from shipped to cancelled"):
            ensure_vendor_transition(V.SHIPPED, V.CANCELLED)

    def test_plain_strings_of_the_statuses_are_understood(self) -> None:
        ensure_vendor_transition("awaiting_shipment", "shipped")  # type: ignore[arg-type]


class TestOrderStatusFor:
    def test_an_order_whose_vendors_have_not_shipped_is_confirmed(self) -> None:
        assert order_status_for([V.AWAITING_SHIPMENT, V.AWAITING_SHIPMENT]) == (
            OrderStatus.CONFIRMED
        )

    def test_one_vendor_shipping_puts_the_order_in_fulfillment(self) -> None:
        assert order_status_for([V.AWAITING_SHIPMENT, V.SHIPPED]) == OrderStatus.IN_FULFILLMENT

    @pytest.mark.parametrize("status", [V.DELIVERED, V.COMPLETED])
    def test_delivered_or_completed_vendors_with_others_pending_is_in_fulfillment(
        self, status: V
    ) -> None:
        assert order_status_for([status, V.AWAITING_SHIPMENT]) == OrderStatus.IN_FULFILLMENT

    def test_an_order_whose_vendors_are_all_cancelled_is_cancelled(self) -> None:
        assert order_status_for([V.CANCELLED, V.CANCELLED]) == OrderStatus.CANCELLED

    def test_completed_and_cancelled_vendors_make_a_completed_order(self) -> None:
        assert order_status_for([V.COMPLETED, V.CANCELLED]) == OrderStatus.COMPLETED

    def test_every_vendor_completed_makes_a_completed_order(self) -> None:
        assert order_status_for([V.COMPLETED]) == OrderStatus.COMPLETED

    def test_a_cancelled_vendor_beside_one_awaiting_shipment_leaves_it_confirmed(self) -> None:
        assert order_status_for([V.CANCELLED, V.AWAITING_SHIPMENT]) == OrderStatus.CONFIRMED

    def test_a_cancelled_vendor_beside_one_shipped_is_in_fulfillment(self) -> None:
        assert order_status_for([V.CANCELLED, V.SHIPPED]) == OrderStatus.IN_FULFILLMENT

    def test_an_order_not_split_yet_is_confirmed(self) -> None:
        assert order_status_for([]) == OrderStatus.CONFIRMED
