"""PaymentIntents and the Charges their confirmation creates."""

from __future__ import annotations

import secrets

from stripe.params import (
    ChargeListParams,
    ChargeRetrieveParams,
    PaymentIntentConfirmParams,
    PaymentIntentCreateParams,
    PaymentIntentListParams,
    PaymentIntentRetrieveParams,
)

from . import params as p
from .cards import TEST_CARDS, TestCard
from .errors import StripeAPIError, invalid_request, no_such
from .events import emit
from .routing import Endpoint, PathIds, listing
from .state import Store, StripeObject

MINIMUM_AMOUNT = 50  # Stripe refuses charges below 50 minor units (e.g. $0.50).
MAXIMUM_AMOUNT = 99_999_999
# An expanded Charge shows its newest ten refunds; more are paged from the list call.
_SHOWN_ON_CHARGE = 10


def create_payment_intent(store: Store, params: p.Params, _: PathIds) -> StripeObject:
    amount = _amount(params)
    currency = _currency(params)
    payment_method = _payment_method(params)
    types = p.strings(params, "allowed_payment_method_types") or ["card"]
    confirm = p.boolean(params, "confirm")
    if confirm and payment_method is None:
        raise _missing_payment_method()
    intent_id = store.new_id("pi")
    intent: StripeObject = {
        "id": intent_id,
        "object": "payment_intent",
        "amount": amount,
        "amount_capturable": 0,
        "amount_received": 0,
        "application_fee_amount": p.integer(params, "application_fee_amount"),
        "automatic_payment_methods": None,
        "canceled_at": None,
        "cancellation_reason": None,
        "capture_method": p.string(params, "capture_method") or "automatic_async",
        "client_secret": f"{intent_id}_secret_{secrets.token_hex(12)}",
        "confirmation_method": p.string(params, "confirmation_method") or "automatic",
        "created": store.now(),
        "currency": currency,
        "customer": p.string(params, "customer"),
        "description": p.string(params, "description"),
        "last_payment_error": None,
        "latest_charge": None,
        "livemode": False,
        "metadata": p.metadata(params),
        "next_action": None,
        "on_behalf_of": p.string(params, "on_behalf_of"),
        "payment_method": payment_method,
        "payment_method_types": types,
        "receipt_email": p.string(params, "receipt_email"),
        "setup_future_usage": None,
        "shipping": None,
        "statement_descriptor": p.string(params, "statement_descriptor"),
        "status": "requires_confirmation" if payment_method else "requires_payment_method",
        "transfer_data": None,
        "transfer_group": p.string(params, "transfer_group"),
    }
    store.add("payment_intent", intent)
    emit(store, "payment_intent.created", intent)
    if confirm:
        return _confirm(store, intent)
    return intent


def confirm_payment_intent(store: Store, params: p.Params, ids: PathIds) -> StripeObject:
    intent = _intent(store, ids[0])
    if intent["status"] not in ("requires_confirmation", "requires_payment_method"):
        raise invalid_request(
            f"This PaymentIntent's status is {intent['status']}, so it cannot be confirmed.",
            code="payment_intent_unexpected_state",
        )
    payment_method = _payment_method(params) or intent["payment_method"]
    if payment_method is None:
        raise _missing_payment_method()
    intent["payment_method"] = payment_method
    return _confirm(store, intent)


def _confirm(store: Store, intent: StripeObject) -> StripeObject:
    card = TEST_CARDS[intent["payment_method"]]
    charge = _charge(store, intent, card)
    intent["latest_charge"] = charge["id"]
    if card.code is None:
        intent.update(status="succeeded", amount_received=intent["amount"])
        intent["last_payment_error"] = None
        emit(store, "charge.succeeded", charge)
        emit(store, "payment_intent.succeeded", intent)
        return intent
    # Stripe keeps a declined PaymentIntent for another attempt and drops the failed method.
    failed_method = {"id": intent["payment_method"], "object": "payment_method", "type": "card"}
    intent["last_payment_error"] = {
        "type": "card_error",
        "code": card.code,
        "decline_code": card.decline_code,
        "message": card.message,
        "charge": charge["id"],
        "payment_method": failed_method,
    }
    intent.update(status="requires_payment_method", payment_method=None)
    emit(store, "charge.failed", charge)
    emit(store, "payment_intent.payment_failed", intent)
    raise StripeAPIError(
        402,
        "card_error",
        card.message,
        code=card.code,
        decline_code=card.decline_code,
        extra={"charge": charge["id"], "payment_intent": intent, "payment_method": failed_method},
    )


def _charge(store: Store, intent: StripeObject, card: TestCard) -> StripeObject:
    paid = card.code is None
    charge_id = store.new_id("ch")
    charge: StripeObject = {
        "id": charge_id,
        "object": "charge",
        "amount": intent["amount"],
        "amount_captured": intent["amount"] if paid else 0,
        "amount_refunded": 0,
        "balance_transaction": store.new_id("txn") if paid else None,
        "captured": paid,
        "created": store.now(),
        "currency": intent["currency"],
        "customer": intent["customer"],
        "description": intent["description"],
        "disputed": False,
        "failure_code": card.code,
        "failure_message": card.message or None,
        "livemode": False,
        "metadata": dict(intent["metadata"]),
        "outcome": {
            "network_status": "approved_by_network" if paid else "declined_by_network",
            "reason": None if paid else card.decline_code,
            "risk_level": "normal",
            "seller_message": "Payment complete." if paid else "The bank declined the payment.",
            "type": "authorized" if paid else "issuer_declined",
        },
        "paid": paid,
        "payment_intent": intent["id"],
        "payment_method": intent["payment_method"],
        "payment_method_details": {
            "type": "card",
            "card": {"brand": card.brand, "last4": card.last4},
        },
        "refunded": False,
        # No `refunds`: since API version 2022-11-15 a Charge lists them only when expanded.
        "status": "succeeded" if paid else "failed",
        "transfer_group": intent["transfer_group"],
    }
    return store.add("charge", charge)


def retrieve_payment_intent(store: Store, _: p.Params, ids: PathIds) -> StripeObject:
    return _intent(store, ids[0])


list_payment_intents = listing("payment_intent", "/v1/payment_intents", "customer")


def retrieve_charge(store: Store, params: p.Params, ids: PathIds) -> StripeObject:
    charge = store.get_or_404("charge", ids[0])
    if "refunds" in (p.strings(params, "expand") or []):
        return {**charge, "refunds": refunds_of(store, charge)}
    return charge


def refunds_of(store: Store, charge: StripeObject) -> StripeObject:
    """A charge's refunds as its expanded `refunds` list shows them: the newest ten."""
    mine = store.newest_with("refund", "charge", charge["id"])
    return {
        "object": "list",
        "data": mine[:_SHOWN_ON_CHARGE],
        "has_more": len(mine) > _SHOWN_ON_CHARGE,
        "total_count": len(mine),
        "url": f"/v1/charges/{charge['id']}/refunds",
    }


list_charges = listing("charge", "/v1/charges", "customer", "payment_intent", "transfer_group")


def _intent(store: Store, intent_id: str) -> StripeObject:
    return store.get_or_404("payment_intent", intent_id, param="intent")


def _missing_payment_method() -> StripeAPIError:
    return invalid_request(
        "You cannot confirm this PaymentIntent because it's missing a payment method.",
        code="payment_intent_unexpected_state",
        param="payment_method",
    )


def _amount(params: p.Params) -> int:
    amount = p.integer(params, "amount", required=True)
    assert amount is not None
    if amount < MINIMUM_AMOUNT:
        raise invalid_request(
            f"Amount must be at least {MINIMUM_AMOUNT} minor units.",
            code="amount_too_small",
            param="amount",
        )
    if amount > MAXIMUM_AMOUNT:
        raise invalid_request(
            f"Amount must be no more than {MAXIMUM_AMOUNT}.",
            code="amount_too_large",
            param="amount",
        )
    return amount


def _currency(params: p.Params) -> str:
    currency = (p.string(params, "currency", required=True) or "").lower()
    if len(currency) != 3 or not currency.isalpha():
        raise invalid_request(f"Invalid currency: {currency}.", param="currency")
    return currency


def _payment_method(params: p.Params) -> str | None:
    payment_method = p.string(params, "payment_method")
    if payment_method is not None and payment_method not in TEST_CARDS:
        raise no_such("PaymentMethod", payment_method, param="payment_method")
    return payment_method


ENDPOINTS = [
    Endpoint("POST", "/v1/payment_intents", PaymentIntentCreateParams, create_payment_intent),
    Endpoint("GET", "/v1/payment_intents", PaymentIntentListParams, list_payment_intents),
    Endpoint(
        "GET", "/v1/payment_intents/{id}", PaymentIntentRetrieveParams, retrieve_payment_intent
    ),
    Endpoint(
        "POST",
        "/v1/payment_intents/{id}/confirm",
        PaymentIntentConfirmParams,
        confirm_payment_intent,
    ),
    Endpoint("GET", "/v1/charges", ChargeListParams, list_charges),
    Endpoint("GET", "/v1/charges/{id}", ChargeRetrieveParams, retrieve_charge),
]
