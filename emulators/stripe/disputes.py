"""Disputes (chargebacks): opened and closed by the emulator's controls, read through the API."""

from __future__ import annotations

from typing import Any

from stripe.params import DisputeListParams, DisputeRetrieveParams

from .errors import ControlError
from .events import emit
from .routing import Endpoint, listing, retrieval
from .state import Store, StripeObject

CLOSED = ("won", "lost")


def open_dispute(store: Store, body: dict[str, Any]) -> StripeObject:
    """The cardholder's bank disputes a charge, named by its PaymentIntent or its own id."""
    charge = _disputed_charge(store, body)
    # A cardholder disputes what is still charged: a refunded part cannot be disputed.
    disputable = int(charge["amount"] - charge.get("amount_refunded", 0))
    amount = body.get("amount", disputable)
    if not isinstance(amount, int) or isinstance(amount, bool):
        raise ControlError(400, "amount must be an integer of minor units")
    if not 0 < amount <= disputable:
        raise ControlError(
            400, f"amount must be a positive integer up to what is not refunded ({disputable})"
        )
    reason = body.get("reason", "fraudulent")
    if not isinstance(reason, str) or not reason:
        raise ControlError(400, "reason must be a non-empty string")
    if store.newest_with("dispute", "charge", charge["id"]):
        # A charge can be disputed only once.
        raise ControlError(409, f"charge {charge['id']} is already disputed")
    dispute: StripeObject = {
        "id": store.new_id("dp"),
        "object": "dispute",
        "amount": amount,
        "balance_transactions": [],
        "charge": charge["id"],
        "created": store.now(),
        "currency": charge["currency"],
        "evidence": {},
        "evidence_details": {
            "due_by": store.now() + 7 * 24 * 3600,
            "has_evidence": False,
            "past_due": False,
            "submission_count": 0,
        },
        "is_charge_refundable": False,
        "livemode": False,
        "metadata": {},
        "payment_intent": charge["payment_intent"],
        "reason": reason,
        "status": "needs_response",
    }
    store.add("dispute", dispute)
    charge["disputed"] = True
    emit(store, "charge.dispute.created", dispute)
    return dispute


def close_dispute(store: Store, dispute_id: str, body: dict[str, Any]) -> StripeObject:
    dispute = store.get("dispute", dispute_id)
    if dispute is None:
        raise ControlError(404, f"no such dispute: {dispute_id}")
    status = body.get("status")
    if status not in CLOSED:
        raise ControlError(400, "status must be one of: won, lost")
    if dispute["status"] in CLOSED:
        raise ControlError(409, f"dispute {dispute_id} is already closed ({dispute['status']})")
    dispute["status"] = status
    emit(store, "charge.dispute.closed", dispute)
    return dispute


def _disputed_charge(store: Store, body: dict[str, Any]) -> StripeObject:
    intent_id, charge_id = body.get("payment_intent"), body.get("charge")
    if isinstance(intent_id, str):
        intent = store.get("payment_intent", intent_id)
        if intent is None:
            raise ControlError(404, f"no such payment_intent: {intent_id}")
        charge_id = intent["latest_charge"]
    elif not isinstance(charge_id, str):
        raise ControlError(400, "payment_intent (or charge) is required")
    charge = store.get("charge", charge_id or "")
    if charge is None or charge["status"] != "succeeded":
        raise ControlError(400, "only a successful charge can be disputed")
    return charge


retrieve_dispute = retrieval("dispute", param="dispute")
list_disputes = listing("dispute", "/v1/disputes", "charge", "payment_intent")


ENDPOINTS = [
    Endpoint("GET", "/v1/disputes", DisputeListParams, list_disputes),
    Endpoint("GET", "/v1/disputes/{id}", DisputeRetrieveParams, retrieve_dispute),
]
