"""Deterministic identifiers and idempotency keys.

Workflow code may not draw random ids, and a retried request or activity must land on the
same order, workflow and provider call as the first attempt: every id here is derived from
what the caller already knows.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Mapping

_ID_HEX_CHARS = 24

# Metadata on the refunds and transfer reversals this system makes at Stripe: their webhooks
# are then not taken for outside ones.
SOURCE_METADATA = {"source": "fulfillment"}


def _digest(*parts: str) -> str:
    # A separator keeps ("ab", "c") and ("a", "bc") apart; NUL never occurs in HTTP
    # headers or in our ids, so it cannot be forged inside a part.
    return hashlib.sha256("\0".join(parts).encode("utf-8")).hexdigest()


def order_workflow_id(order_id: str) -> str:
    return f"order-{order_id}"


def vendor_order_workflow_id(order_id: str, vendor_id: str) -> str:
    return f"order-{order_id}-vendor-{vendor_id}"


def ids_of_workflow_id(workflow_id: str) -> dict[str, str]:
    """The order id (and the vendor order id) an order or vendor order workflow id encodes;
    nothing for any other workflow. Logs lift them into fields of their own (models/logs.py),
    so all of an order's lines are found by its id alone."""
    if not workflow_id.startswith("order-"):
        return {}
    order_id, separator, vendor_id = workflow_id.removeprefix("order-").partition("-vendor-")
    if not order_id:
        return {}
    if not separator:
        return {"order_id": order_id}
    return {"order_id": order_id, "vendor_order_id": vendor_order_id(order_id, vendor_id)}


def order_id_for_idempotency_key(client: str, key: str) -> str:
    """``ord_`` + 24 hex digits of SHA-256 of the client and its key.

    A checkout retried with the same key maps to the same order and so to the same
    workflow; keys are scoped per client, so two storefronts may use the same key.
    """
    return "ord_" + _digest(client, key)[:_ID_HEX_CHARS]


def vendor_order_id(order_id: str, vendor_id: str) -> str:
    return "vo_" + _digest(order_id, vendor_id)[:_ID_HEX_CHARS]


def checkout_update_id(fingerprint: str) -> str:
    """One checkout update per body: Temporal answers a repeated one from its first run."""
    return f"checkout-{fingerprint[:40]}"


def return_id_for(order_id: str, idempotency_key: str | None) -> str:
    """The same return for the same key on the same order; a new one without a key."""
    if idempotency_key is None:
        return "ret_" + secrets.token_hex(8)
    return "ret_" + _digest(order_id, idempotency_key)[:16]


def return_refund_key(return_id: str) -> str:
    return f"return-{return_id}"


def ops_refund_key(idempotency_key: str) -> str:
    """An operator's refund: the same Idempotency-Key is the same refund."""
    return _digest("ops", idempotency_key)[:32]


def refund_update_id(refund_key: str) -> str:
    return f"refund-{refund_key}"


def payout_adjustment_workflow_id(vendor_order_id: str, refund_key: str) -> str:
    """One adjustment of a closed vendor order's payout per refund."""
    return f"adjust-{vendor_order_id}-{refund_key}"


def payout_reversal_key(transfer_id: str | None) -> str:
    """The reversal of what a refund recorded during the payout took from the transfer."""
    return f"payout-{transfer_id or 'none'}"


def notification_workflow_id(event_id: str) -> str:
    return f"notify-{event_id}"


def shippo_event_id(carrier: str, tracking_number: str, status: str, status_id: str) -> str:
    """Shippo sends no event ids: a tracking update is known by what it says."""
    seen = "\0".join((carrier, tracking_number, status, status_id))
    return "shippo_" + hashlib.sha256(seen.encode()).hexdigest()[:40]


def stripe_event_dedup_key(event_id: str) -> str:
    return f"stripe:{event_id}"


# Random ids for what has no natural key (created once, answered with its id).
def new_vendor_id() -> str:
    return "ven_" + secrets.token_hex(8)


def new_warehouse_id() -> str:
    return "wh_" + secrets.token_hex(8)


def new_api_key_id() -> str:
    return "key_" + secrets.token_hex(8)


def request_fingerprint(payload: Mapping[str, object]) -> str:
    """SHA-256 hex of the payload as canonical JSON (sorted keys, compact separators).

    Two bodies that differ only in key order or whitespace have the same fingerprint, so a
    retry is recognised and another body under the same key is not.
    """
    canonical = json.dumps(
        payload, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def charge_idempotency_key(order_id: str) -> str:
    return f"{order_id}:charge"


def payout_idempotency_key(vendor_order_id: str) -> str:
    return f"{vendor_order_id}:payout"


def connected_account_idempotency_key(vendor_id: str) -> str:
    return f"vendor:{vendor_id}:account"


def refund_idempotency_key(ledger_key: str, amount_cents: int, refused_before: int = 0) -> str:
    """Stripe's key for a refund: the amount is in it, so a refusal kept for one amount never
    blocks another; and after `refused_before` refusals Stripe kept (a disputed charge), the
    next key, since a kept refusal is answered again for a day whatever has changed."""
    key = f"{ledger_key}:{amount_cents}"
    return key if refused_before == 0 else f"{key}:again{refused_before}"


def order_events_channel(order_id: str) -> str:
    """The Redis pub/sub channel that carries one order's events as they happen."""
    return f"order-events:{order_id}"
