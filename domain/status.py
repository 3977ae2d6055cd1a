"""Statuses of orders, vendor orders and payouts, and the moves allowed between them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import StrEnum

from domain.errors import InvalidState


class OrderStatus(StrEnum):
    PENDING = "pending"
    CONFIRMED = "confirmed"
    IN_FULFILLMENT = "in_fulfillment"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    REJECTED = "rejected"


class VendorOrderStatus(StrEnum):
    AWAITING_SHIPMENT = "awaiting_shipment"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class PayoutStatus(StrEnum):
    PENDING = "pending"
    RELEASED = "released"
    NONE = "none"
    REVERSED = "reversed"


# Once a parcel has left, cancelling would refund goods the customer still receives: returns
# handle that case. Completed and cancelled are final.
VENDOR_TRANSITIONS: Mapping[VendorOrderStatus, frozenset[VendorOrderStatus]] = {
    VendorOrderStatus.AWAITING_SHIPMENT: frozenset(
        {VendorOrderStatus.SHIPPED, VendorOrderStatus.CANCELLED}
    ),
    VendorOrderStatus.SHIPPED: frozenset({VendorOrderStatus.DELIVERED}),
    VendorOrderStatus.DELIVERED: frozenset({VendorOrderStatus.COMPLETED}),
    VendorOrderStatus.COMPLETED: frozenset(),
    VendorOrderStatus.CANCELLED: frozenset(),
}


def can_transition_vendor(current: VendorOrderStatus, target: VendorOrderStatus) -> bool:
    return VendorOrderStatus(target) in VENDOR_TRANSITIONS[VendorOrderStatus(current)]


def ensure_vendor_transition(current: VendorOrderStatus, target: VendorOrderStatus) -> None:
    """Refuse with ``InvalidState`` (``extra``: current, target) any move not allowed.

    Allowed: awaiting_shipment -> shipped or cancelled, shipped -> delivered,
    delivered -> completed. Staying in the same status is not a move, and is refused too:
    callers that want idempotency check for it first.
    """
    if not can_transition_vendor(current, target):
        raise InvalidState(
            f"a vendor order cannot go from {VendorOrderStatus(current)} to "
            f"{VendorOrderStatus(target)}",
            current=str(current),
            target=str(target),
        )


_UNDER_WAY = frozenset(
    {VendorOrderStatus.SHIPPED, VendorOrderStatus.DELIVERED, VendorOrderStatus.COMPLETED}
)
_FINISHED = frozenset({VendorOrderStatus.COMPLETED, VendorOrderStatus.CANCELLED})


def order_status_for(vendor_statuses: Sequence[VendorOrderStatus]) -> OrderStatus:
    """The order's status derived from its vendor orders' statuses.

    - every vendor order cancelled -> cancelled;
    - every one completed or cancelled, at least one completed -> completed;
    - any shipped, delivered or completed -> in_fulfillment;
    - otherwise (awaiting shipment, some maybe cancelled, or none split yet) -> confirmed.
    """
    statuses = [VendorOrderStatus(status) for status in vendor_statuses]
    if not statuses:
        return OrderStatus.CONFIRMED
    if all(status is VendorOrderStatus.CANCELLED for status in statuses):
        return OrderStatus.CANCELLED
    if all(status in _FINISHED for status in statuses):
        return OrderStatus.COMPLETED
    if any(status in _UNDER_WAY for status in statuses):
        return OrderStatus.IN_FULFILLMENT
    return OrderStatus.CONFIRMED
