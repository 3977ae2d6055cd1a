"""Refunds of a charge, whole or in parts, never more than the charge has left."""

from __future__ import annotations

from stripe.params import (
    RefundCreateParams,
    RefundListParams,
    RefundRetrieveParams,
)

from . import params as p
from .errors import invalid_request, no_such
from .events import emit
from .routing import Endpoint, PathIds
from .state import Store, StripeObject

# Stripe always shows the newest ten refunds on the charge; more are paged from the list call.
_SHOWN_ON_CHARGE = 10
# The SDK's types also allow any string here, for reasons Stripe may add; Stripe allows these.
REASONS = ("duplicate", "fraudulent", "requested_by_customer")


def create_refund(store: Store, params: p.Params, _: PathIds) -> StripeObject:
    charge = _refundable_charge(store, params)
    left = int(charge["amount_captured"] - charge["amount_refunded"])
    requested = p.integer(params, "amount")
    if requested is not None and requested <= 0:
        raise invalid_request(
            "Invalid positive integer", code="parameter_invalid_integer", param="amount"
        )
    if left <= 0:
        raise invalid_request(
            f"Charge {charge['id']} has already been refunded.", code="charge_already_refunded"
        )
    amount = left if requested is None else requested
    if amount > left:
        raise invalid_request(
            f"Refund amount ({_money(amount, charge)}) is greater than unrefunded amount on "
            f"charge ({_money(left, charge)})",
            code="amount_too_large",
            param="amount",
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
        "metadata": p.metadata(params),
        "payment_intent": charge["payment_intent"],
        "reason": reason,
        "receipt_number": None,
        "source_transfer_reversal": None,
        "status": "succeeded",
        "transfer_reversal": None,
    }
    store.add("refund", refund)
    charge["amount_refunded"] += amount
    charge["refunded"] = charge["amount_refunded"] >= charge["amount_captured"]
    _show_refunds(store, charge)
    emit(store, "refund.created", refund)
    # The charge carries its newest refunds, so a receiver of charge.refunded can read each
    # refund's metadata without calling back.
    emit(store, "charge.refunded", charge)
    return refund


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


def _show_refunds(store: Store, charge: StripeObject) -> None:
    mine = [r for r in store.newest_first("refund") if r["charge"] == charge["id"]]
    charge["refunds"] = {
        "object": "list",
        "data": mine[:_SHOWN_ON_CHARGE],
        "has_more": len(mine) > _SHOWN_ON_CHARGE,
        "total_count": len(mine),
        "url": f"/v1/charges/{charge['id']}/refunds",
    }


def _money(amount: int, charge: StripeObject) -> str:
    return f"{amount / 100:.2f} {charge['currency'].upper()}"


def retrieve_refund(store: Store, _: p.Params, ids: PathIds) -> StripeObject:
    refund = store.get("refund", ids[0])
    if refund is None:
        raise no_such("refund", ids[0], param="id", status=404)
    return refund


def list_refunds(store: Store, params: p.Params, _: PathIds) -> StripeObject:
    wanted = {key: p.string(params, key) for key in ("charge", "payment_intent")}
    return store.list_page(
        "refund",
        params,
        "/v1/refunds",
        lambda re: all(value is None or re[key] == value for key, value in wanted.items()),
    )


ENDPOINTS = [
    Endpoint("POST", "/v1/refunds", RefundCreateParams, create_refund),
    Endpoint("GET", "/v1/refunds", RefundListParams, list_refunds),
    Endpoint("GET", "/v1/refunds/{id}", RefundRetrieveParams, retrieve_refund),
]
