"""Transfer reversals: taking back what a connected account was paid, if it still holds it."""

from __future__ import annotations

from stripe.params import (
    TransferReversalCreateParams,
    TransferReversalListParams,
    TransferReversalRetrieveParams,
)

from . import balances
from . import params as p
from .errors import invalid_request, no_such
from .events import emit
from .routing import Endpoint, PathIds
from .state import Store, StripeObject

_SHOWN_ON_TRANSFER = 10


def create_reversal(store: Store, params: p.Params, ids: PathIds) -> StripeObject:
    transfer = store.get_or_404("transfer", ids[0])
    left = int(transfer["amount"] - transfer["amount_reversed"])
    requested = p.amount(params)
    if left <= 0:
        raise invalid_request(
            f"Transfer {transfer['id']} has already been fully reversed.",
            code="amount_too_large",
            param="amount",
        )
    amount = p.amount_within(
        requested,
        left,
        lambda amount: (
            f"The reversal amount ({amount}) is greater than the amount of transfer "
            f"{transfer['id']} not yet reversed ({left})."
        ),
    )
    # Checked last and before any change, so a refused reversal leaves everything as it was.
    balances.ensure_covers(store, transfer["destination"], amount)
    reversal: StripeObject = {
        "id": store.new_id("trr"),
        "object": "transfer_reversal",
        "amount": amount,
        "balance_transaction": store.new_id("txn"),
        "created": store.now(),
        "currency": transfer["currency"],
        "destination_payment_refund": store.new_id("pyr"),
        "metadata": p.metadata(params),
        "source_refund": None,
        "transfer": transfer["id"],
    }
    store.add("transfer_reversal", reversal)
    balances.debit(store, transfer["destination"], amount)
    transfer["amount_reversed"] += amount
    transfer["reversed"] = transfer["amount_reversed"] >= transfer["amount"]
    mine = store.newest_with("transfer_reversal", "transfer", transfer["id"])
    transfer["reversals"] = {
        "object": "list",
        "data": mine[:_SHOWN_ON_TRANSFER],
        "has_more": len(mine) > _SHOWN_ON_TRANSFER,
        "total_count": len(mine),
        "url": f"/v1/transfers/{transfer['id']}/reversals",
    }
    # Stripe announces partial reversals with this type too, not only the last one.
    emit(store, "transfer.reversed", transfer)
    return reversal


def list_reversals(store: Store, params: p.Params, ids: PathIds) -> StripeObject:
    transfer_id = store.get_or_404("transfer", ids[0])["id"]
    return store.list_page(
        "transfer_reversal",
        params,
        f"/v1/transfers/{transfer_id}/reversals",
        {"transfer": transfer_id},
    )


def retrieve_reversal(store: Store, _: p.Params, ids: PathIds) -> StripeObject:
    transfer_id, reversal_id = ids
    reversal = store.get("transfer_reversal", reversal_id)
    if reversal is None or reversal["transfer"] != store.get_or_404("transfer", transfer_id)["id"]:
        raise no_such("transfer_reversal", reversal_id, param="id", status=404)
    return reversal


ENDPOINTS = [
    Endpoint("POST", "/v1/transfers/{id}/reversals", TransferReversalCreateParams, create_reversal),
    Endpoint("GET", "/v1/transfers/{id}/reversals", TransferReversalListParams, list_reversals),
    Endpoint(
        "GET",
        "/v1/transfers/{id}/reversals/{reversal}",
        TransferReversalRetrieveParams,
        retrieve_reversal,
    ),
]
