"""Refunds of a charge, whole or in parts, never more than the charge has left."""

from __future__ import annotations

from typing import Any

from stripe.params import (
    RefundCreateParams,
    RefundListParams,
    RefundRetrieveParams,
)

from . import params as p
from .cards import TEST_CARDS
from .errors import ControlError, invalid_request, no_such
from .events import emit
from .routing import Endpoint, PathIds, listing, retrieval
from .state import Store, StripeObject

# Where a refund may go from each status, by the emulator's controls ("some time later").
MOVES = {"pending": ("succeeded", "failed", "canceled"), "succeeded": ("failed",)}
# The SDK's types also allow any string here, for reasons Stripe may add; Stripe allows these.
REASONS = ("duplicate", "fraudulent", "requested_by_customer")


def create_refund(store: Store, params: p.Params, _: PathIds) -> StripeObject:
    charge = _refundable_charge(store, params)
    disputes = store.newest_with("dispute", "charge", charge["id"])
    # A lost dispute took its amount back already: it cannot be refunded as well.
    lost = sum(int(d["amount"]) for d in disputes if d["status"] == "lost")
    left = int(charge["amount_captured"] - charge["amount_refunded"]) - lost
    requested = p.amount(params)
    if left <= 0:
        raise invalid_request(
            f"Charge {charge['id']} has already been refunded.", code="charge_already_refunded"
        )
    if any(d["status"] not in ("won", "lost") for d in disputes):
        # As Stripe: a charge under dispute cannot be refunded; the dispute decides.
        raise invalid_request(
            f"Charge {charge['id']} has been charged back; cannot issue a refund.",
            code="charge_disputed",
        )
    amount = p.amount_within(
        requested,
        left,
        lambda amount: (
            f"Refund amount ({_money(amount, charge)}) is greater than unrefunded "
            f"amount on charge ({_money(left, charge)})"
        ),
    )
    reason = p.string(params, "reason")
    if reason is not None and reason not in REASONS:
        raise invalid_request(
            f"Invalid reason: must be one of {', '.join(REASONS)}", param="reason"
        )
    currency = p.string(params, "currency")
    if currency is not None and currency.lower() != charge["currency"]:
        raise invalid_request(
            f"The currency must match the charge's currency ({charge['currency']}).",
            param="currency",
        )
    if p.boolean(params, "reverse_transfer"):
        # Only destination charges carry a transfer to reverse; this marketplace pays vendors
        # with separate transfers, which are reversed through their own endpoint.
        raise invalid_request(
            "reverse_transfer can only be used with destination charges.",
            param="reverse_transfer",
        )
    card = TEST_CARDS.get(charge.get("payment_method") or "")
    status = card.refund_status if card is not None else "succeeded"
    refund: StripeObject = {
        "id": store.new_id("re"),
        "object": "refund",
        "amount": amount,
        "balance_transaction": store.new_id("txn"),
        "charge": charge["id"],
        "created": store.now(),
        "currency": charge["currency"],
        "description": None,
        "destination_details": None,
        "failure_balance_transaction": None,
        "failure_reason": None,
        "metadata": p.metadata(params),
        "next_action": None,
        "payment_intent": charge["payment_intent"],
        "payment_method": charge.get("payment_method"),
        "pending_reason": "processing" if status == "pending" else None,
        "reason": reason,
        "receipt_number": None,
        "source_transfer_reversal": None,
        "status": status,
        "transfer_reversal": None,
    }
    store.add("refund", refund)
    # A pending refund already counts against what the charge can still refund.
    charge["amount_refunded"] += amount
    charge["refunded"] = charge["amount_refunded"] >= charge["amount_captured"]
    emit(store, "refund.created", refund)
    # Since API version 2022-11-15 the charge in this event carries no `refunds`: receivers
    # learn about each refund from refund.created / refund.updated.
    emit(store, "charge.refunded", charge)
    return refund


def move_refund(store: Store, refund_id: str, body: dict[str, Any]) -> StripeObject:
    """A refund's status changes later, as Stripe's do: a pending one settles (or fails, or is
    canceled), a succeeded one can still fail. Announced as Stripe announces it."""
    refund = store.get("refund", refund_id)
    if refund is None:
        raise ControlError(404, f"no such refund: {refund_id}")
    status = body.get("status")
    allowed = MOVES.get(refund["status"], ())
    if status not in allowed:
        raise ControlError(
            409 if isinstance(status, str) and status in STATUSES else 400,
            f"a {refund['status']} refund cannot become {status!r}"
            + (f" (only {', '.join(allowed)})" if allowed else ""),
        )
    refund["status"] = status
    refund["pending_reason"] = None
    if status in ("failed", "canceled"):
        charge = store.get("charge", refund["charge"])
        assert charge is not None
        # The money stays with (or comes back to) the merchant: the charge can be refunded again.
        charge["amount_refunded"] -= refund["amount"]
        charge["refunded"] = charge["amount_refunded"] >= charge["amount_captured"]
        if status == "failed":
            refund["failure_reason"] = str(body.get("failure_reason") or "lost_or_stolen_card")
            refund["failure_balance_transaction"] = store.new_id("txn")
    emit(store, "refund.updated", refund)
    emit(store, "charge.refund.updated", refund)
    if status == "failed":
        emit(store, "refund.failed", refund)
    return refund


STATUSES = ("pending", "succeeded", "failed", "canceled")


def _refundable_charge(store: Store, params: p.Params) -> StripeObject:
    intent_id = p.string(params, "payment_intent")
    charge_id = p.string(params, "charge")
    if intent_id is None and charge_id is None:
        raise invalid_request(
            "One of the following params should be provided for this request: "
            "payment_intent or charge.",
            code="parameter_missing",
        )
    if intent_id is not None:
        intent = store.get("payment_intent", intent_id)
        if intent is None:
            raise no_such("payment_intent", intent_id, param="payment_intent")
        if charge_id is not None and charge_id != intent["latest_charge"]:
            raise invalid_request(
                f"Charge {charge_id} does not belong to PaymentIntent {intent_id}.",
                param="charge",
            )
        charge_id = intent["latest_charge"]
        param = "payment_intent"
    else:
        param = "charge"
    charge = store.get("charge", charge_id or "")
    if charge_id is not None and charge is None:
        raise no_such("charge", charge_id, param="charge")
    if charge is None or charge["status"] != "succeeded":
        raise invalid_request(
            "This payment has no successful charge to refund.",
            code="charge_not_refundable",
            param=param,
        )
    return charge


def _money(amount: int, charge: StripeObject) -> str:
    return f"{amount / 100:.2f} {charge['currency'].upper()}"


retrieve_refund = retrieval("refund")
list_refunds = listing("refund", "/v1/refunds", "charge", "payment_intent")


ENDPOINTS = [
    Endpoint("POST", "/v1/refunds", RefundCreateParams, create_refund),
    Endpoint("GET", "/v1/refunds", RefundListParams, list_refunds),
    Endpoint("GET", "/v1/refunds/{id}", RefundRetrieveParams, retrieve_refund),
]
