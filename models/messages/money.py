"""Money through Stripe: the buyer's charge, the vendor's payout, refunds (ours and outside
ones), reversals of a payout, disputes, and the adjustments made after a vendor order closed."""

from __future__ import annotations

from pydantic import BaseModel


class ChargeRequest(BaseModel):
    order_id: str
    amount_cents: int
    currency: str
    payment_method: str
    transfer_group: str
    customer_id: str


class ChargeOutcome(BaseModel):
    payment_intent_id: str
    charge_id: str
    amount_cents: int


class PayoutRequest(BaseModel):
    vendor_order_id: str
    order_id: str
    # Counts final refusals (no or restricted account). A provider replays a refused request's
    # answer for the same idempotency key, so a fresh attempt after a refusal needs a new key;
    # a refusal moved no money, so nothing can be paid twice.
    attempt: int = 0


class PayoutOutcome(BaseModel):
    transfer_id: str
    amount_cents: int
    # A refund recorded after the payout's amount was worked out and before its transfer: the
    # vendor was paid that much too much, to take back with a reversal (0 for old histories).
    to_reverse_cents: int = 0


class RefundCommand(BaseModel):
    """A refund the system makes (cancellations, returns, ops): `refund_key` names it, so a
    retried one refunds once."""

    order_id: str
    vendor_order_id: str
    refund_key: str
    amount_cents: int
    reason: str = "requested_by_customer"
    # Refund whatever is still refundable instead of amount_cents (a cancellation).
    remaining: bool = False
    # Refund amount_cents, or what is still refundable when that is less: a return received
    # after an operator already refunded part of the order (the goods are back either way).
    at_most: bool = False


class ExternalRefund(BaseModel):
    """A refund made outside the system (Stripe dashboard, API), announced by a webhook."""

    order_id: str
    vendor_order_id: str
    provider_refund_id: str
    amount_cents: int


class RefundOutcome(BaseModel):
    provider_refund_id: str | None
    amount_cents: int
    refunded_cents: int
    to_reverse_cents: int


class ReversalCommand(BaseModel):
    order_id: str
    vendor_order_id: str
    step: str


class ReversalOutcome(BaseModel):
    reversed_cents: int
    debt_cents: int


class DisputeSignal(BaseModel):
    dispute_id: str
    status: str  # needs_response | warning_needs_response | under_review | won | lost

    @property
    def closed(self) -> bool:
        """The dispute is over, whatever its outcome (Stripe's own statuses)."""
        return self.status in _CLOSED_DISPUTE_STATUSES


_CLOSED_DISPUTE_STATUSES = frozenset({"won", "lost", "warning_closed", "charge_refunded"})


class ExternalReversal(BaseModel):
    """Part of a vendor's transfer taken back outside the system (Stripe dashboard or API)."""

    order_id: str
    vendor_order_id: str
    provider_reversal_id: str
    amount_cents: int


class PayoutAdjustment(BaseModel):
    """Money back to the buyer after the vendor order's workflow closed: either a refund made
    outside (a webhook told us) or one to make now (operators)."""

    order_id: str
    vendor_order_id: str
    external: ExternalRefund | None = None
    refund: RefundCommand | None = None
    external_reversal: ExternalReversal | None = None
