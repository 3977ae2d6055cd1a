"""Stripe Connect: connected accounts and the Transfers that pay them."""

from __future__ import annotations

from stripe.params import (
    AccountCreateParams,
    AccountListParams,
    AccountRetrieveParams,
    TransferCreateParams,
    TransferListParams,
    TransferRetrieveParams,
)

from . import balances
from . import params as p
from .errors import balance_insufficient, invalid_request, no_such
from .events import emit
from .routing import Endpoint, PathIds, listing, retrieval
from .state import Store, StripeObject


def create_account(store: Store, params: p.Params, _: PathIds) -> StripeObject:
    capabilities = params.get("capabilities") or {}
    if not isinstance(capabilities, dict):
        raise invalid_request("Invalid hash: capabilities", param="capabilities")
    account_id = store.new_id("acct", 16)
    account: StripeObject = {
        "id": account_id,
        "object": "account",
        "business_profile": None,
        "business_type": p.string(params, "business_type"),
        # There is no onboarding to go through here, so every requested capability is
        # live at once and the account can receive transfers straight away.
        "capabilities": {
            name: "active"
            for name, wish in capabilities.items()
            if isinstance(wish, dict) and wish.get("requested") == "true"
        },
        "charges_enabled": True,
        "country": (p.string(params, "country") or "US").upper(),
        "created": store.now(),
        "default_currency": p.string(params, "default_currency") or "usd",
        "details_submitted": True,
        "email": p.string(params, "email"),
        "external_accounts": {
            "object": "list",
            "data": [],
            "has_more": False,
            "url": f"/v1/accounts/{account_id}/external_accounts",
        },
        "metadata": p.metadata(params),
        "payouts_enabled": True,
        "requirements": {"disabled_reason": None},
        "settings": {},
        "type": p.string(params, "type") or "standard",
    }
    return store.add("account", account)


retrieve_account = retrieval("account", param="account")
list_accounts = listing("account", "/v1/accounts")


def create_transfer(store: Store, params: p.Params, _: PathIds) -> StripeObject:
    amount = p.amount(params, required=True)
    assert amount is not None
    currency = (p.string(params, "currency", required=True) or "").lower()
    destination = p.string(params, "destination", required=True) or ""
    if store.get("account", destination) is None:
        raise no_such("destination", destination, param="destination")
    balances.ensure_may_receive(store, destination)
    source = p.string(params, "source_transaction")
    if source is not None:
        _check_source(store, source, amount, currency)
    transfer_id = store.new_id("tr")
    transfer: StripeObject = {
        "id": transfer_id,
        "object": "transfer",
        "amount": amount,
        "amount_reversed": 0,
        "balance_transaction": store.new_id("txn"),
        "created": store.now(),
        "currency": currency,
        "description": p.string(params, "description"),
        "destination": destination,
        "destination_payment": store.new_id("py"),
        "livemode": False,
        "metadata": p.metadata(params),
        "reversals": {
            "object": "list",
            "data": [],
            "has_more": False,
            "total_count": 0,
            "url": f"/v1/transfers/{transfer_id}/reversals",
        },
        "reversed": False,
        "source_transaction": source,
        "source_type": p.string(params, "source_type") or "card",
        "transfer_group": p.string(params, "transfer_group"),
    }
    store.add("transfer", transfer)
    balances.credit(store, destination, amount)
    emit(store, "transfer.created", transfer)
    return transfer


def _check_source(store: Store, charge_id: str, amount: int, currency: str) -> None:
    charge = store.get("charge", charge_id)
    if charge is None:
        raise no_such("charge", charge_id, param="source_transaction")
    if charge["currency"] != currency:
        raise invalid_request(
            f"The currency of source_transaction's balance transaction ({charge['currency']}) "
            f"must be the same as the transfer currency ({currency}).",
            code="transfer_source_balance_parameters_mismatch",
            param="currency",
        )
    available = transferable(store, charge)
    if amount > available:
        raise balance_insufficient(
            f"Insufficient funds in the source transaction {charge_id}: "
            f"{available} {currency} left to transfer, {amount} requested."
        )


def transferable(store: Store, charge: StripeObject) -> int:
    """What a charge can still fund: captured, less refunds and transfers already made from it."""
    if charge["status"] != "succeeded":
        return 0
    moved = sum(
        transfer["amount"] - transfer["amount_reversed"]
        for transfer in store.newest_with("transfer", "source_transaction", charge["id"])
    )
    return int(charge["amount_captured"] - charge["amount_refunded"] - moved)


retrieve_transfer = retrieval("transfer")
list_transfers = listing("transfer", "/v1/transfers", "destination", "transfer_group")


ENDPOINTS = [
    Endpoint("POST", "/v1/accounts", AccountCreateParams, create_account),
    Endpoint("GET", "/v1/accounts", AccountListParams, list_accounts),
    Endpoint("GET", "/v1/accounts/{id}", AccountRetrieveParams, retrieve_account),
    Endpoint("POST", "/v1/transfers", TransferCreateParams, create_transfer),
    Endpoint("GET", "/v1/transfers", TransferListParams, list_transfers),
    Endpoint("GET", "/v1/transfers/{id}", TransferRetrieveParams, retrieve_transfer),
]
