"""Why a vendor order (or an order) needs a person: the `attention` field of the API and the
`AttentionNeeded` search attribute an operator filters on in the Temporal Web UI."""

from __future__ import annotations

from enum import StrEnum


class AttentionReason(StrEnum):
    # A vendor that acknowledges its orders (issue 13) has not accepted or rejected this one
    # within its ack SLA.
    ACK_OVERDUE = "ack_overdue"
    # Shipping: the vendor missed its ship SLA; the automatic cancellation after it failed.
    SHIP_SLA_BREACHED = "ship_sla_breached"
    AUTO_CANCEL_FAILED = "auto_cancel_failed"
    # Delivery: no delivery long after shipping; the carrier reports a failure or a return.
    DELIVERY_OVERDUE = "delivery_overdue"
    DELIVERY_FAILED = "delivery_failed"
    PARCEL_RETURNED = "parcel_returned"
    # Money: a dispute is open; Stripe refused the payout; a refund after the payout waits for
    # its reversal; a payout was reversed outside the platform.
    DISPUTE = "dispute"
    PAYOUT_FAILED = "payout_failed"
    PAYOUT_REVERSAL_PENDING = "payout_reversal_pending"
    PAYOUT_REVERSED_OUTSIDE = "payout_reversed_outside"
    # On the order: one of its vendor orders' workflows failed.
    VENDOR_ORDER_FAILED = "vendor_order_failed"


# What shipping ends, and what a delivery ends.
SHIPPING_REASONS = frozenset({AttentionReason.SHIP_SLA_BREACHED, AttentionReason.ACK_OVERDUE})
DELIVERY_REASONS = frozenset(
    {
        AttentionReason.DELIVERY_OVERDUE,
        AttentionReason.DELIVERY_FAILED,
        AttentionReason.PARCEL_RETURNED,
    }
)
