"""Deterministic identifiers and idempotency keys.

Workflow code may not draw random ids, and a retried request or activity must land on the
same order, workflow and provider call as the first attempt: every id here is derived from
what the caller already knows.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping

_ID_HEX_CHARS = 24


def _digest(*parts: str) -> str:
    # A separator keeps ("ab", "c") and ("a", "bc") apart; NUL never occurs in HTTP
    # headers or in our ids, so it cannot be forged inside a part.
    return hashlib.sha256("\0".join(parts).encode("utf-8")).hexdigest()


def order_workflow_id(order_id: str) -> str:
    return f"order-{order_id}"


def vendor_order_workflow_id(order_id: str, vendor_id: str) -> str:
    return f"order-{order_id}-vendor-{vendor_id}"


def order_id_for_idempotency_key(client: str, key: str) -> str:
    """``ord_`` + 24 hex digits of SHA-256 of the client and its key.

    A checkout retried with the same key maps to the same order and so to the same
    workflow; keys are scoped per client, so two storefronts may use the same key.
    """
    return "ord_" + _digest(client, key)[:_ID_HEX_CHARS]


def vendor_order_id(order_id: str, vendor_id: str) -> str:
    return "vo_" + _digest(order_id, vendor_id)[:_ID_HEX_CHARS]


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


def refund_idempotency_key(ledger_key: str, amount_cents: int, refused_before: int = 0) -> str:
    """Stripe's key for a refund: the amount is in it, so a refusal kept for one amount never
    blocks another; and after `refused_before` refusals Stripe kept (a disputed charge), the
    next key, since a kept refusal is answered again for a day whatever has changed."""
    key = f"{ledger_key}:{amount_cents}"
    return key if refused_before == 0 else f"{key}:again{refused_before}"


def order_events_channel(order_id: str) -> str:
    """The Redis pub/sub channel that carries one order's events as they happen."""
    return f"order-events:{order_id}"
