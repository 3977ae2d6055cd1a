"""Stripe's documented test PaymentMethods, and how a charge on each of them ends."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TestCard:
    brand: str
    last4: str
    code: str | None = None  # None: the charge succeeds
    decline_code: str | None = None
    message: str = ""
    # A refund of a charge on this card starts in this status (Stripe's refund test cards);
    # the emulator's controls move it on later, as Stripe does "some time later".
    refund_status: str = "succeeded"


# Stripe's documented test PaymentMethods that the emulator understands.
TEST_CARDS = {
    "pm_card_visa": TestCard("visa", "4242"),
    "pm_card_mastercard": TestCard("mastercard", "4444"),
    "pm_card_amex": TestCard("amex", "8431"),
    # Refunds start pending, then succeed (4000 0000 0000 7726).
    "pm_card_pendingRefund": TestCard("visa", "7726", refund_status="pending"),
    # Refunds start succeeded, then fail (4000 0000 0000 5126).
    "pm_card_refundFail": TestCard("visa", "5126"),
    "pm_card_visa_chargeDeclined": TestCard(
        "visa", "0002", "card_declined", "generic_decline", "Your card was declined."
    ),
    "pm_card_visa_chargeDeclinedInsufficientFunds": TestCard(
        "visa", "9995", "card_declined", "insufficient_funds", "Your card has insufficient funds."
    ),
    "pm_card_chargeDeclinedLostCard": TestCard(
        "visa", "9987", "card_declined", "lost_card", "Your card was declined."
    ),
    "pm_card_chargeDeclinedExpiredCard": TestCard(
        "visa", "0069", "expired_card", "expired_card", "Your card has expired."
    ),
}
