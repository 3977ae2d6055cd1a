"""A Stripe webhook read safely: its signature verified, then its event checked for the shape
and field types every handler relies on, so a signed body that is not Stripe's is a 400, never
a 500.
"""

from __future__ import annotations

import json
from typing import Any

import stripe

from providers.errors import ProviderRejectedError


def verified_event(
    payload: bytes,
    signature_header: str | None,
    secret: str,
    tolerance_seconds: int = 300,
) -> dict[str, Any]:
    """A webhook's event once its signature holds, as a plain dict.

    Anything missing, forged, tampered with or older than the tolerance is refused with
    ProviderRejectedError(code="invalid_signature"); a signed body that is not an event
    with code "invalid_payload". A tolerance of 0 accepts any age.
    """
    # The SDK's construct_event is this check, then the body built into StripeObjects that
    # were turned back into dicts here: three quarters of the API's CPU for a webhook, 6% of
    # all it spent on checkouts (py-spy, issue 10). The signature check is the SDK's own.
    try:
        stripe.WebhookSignature.verify_header(
            payload, signature_header, secret, tolerance=tolerance_seconds
        )
    except stripe.SignatureVerificationError as exc:
        raise ProviderRejectedError("invalid_signature", str(exc), http_status=400) from exc
    except ValueError as exc:  # a body that is not UTF-8, read before any signature
        raise ProviderRejectedError("invalid_payload", str(exc), http_status=400) from exc
    try:
        found = json.loads(payload)
    except (ValueError, RecursionError) as exc:  # not UTF-8, not JSON, nested past reason
        raise ProviderRejectedError("invalid_payload", str(exc), http_status=400) from exc
    if not isinstance(found, dict) or not _is_event(found):
        raise ProviderRejectedError(
            "invalid_payload",
            "the signed body is not a Stripe event (object, id, type, data.object with an id)",
            http_status=400,
        )
    return found


# Stripe's event ids and types are far shorter; the webhook_event row keeps 80 characters.
_MOST_EVENT_ID_CHARS = 80


def _is_event(found: dict[str, Any]) -> bool:
    """The shape every handler relies on: a signed body without it is refused, never a 500."""
    data = found.get("data")
    return (
        found.get("object") == "event"
        and all(
            isinstance(found.get(name), str)
            and 0 < len(found[name]) <= _MOST_EVENT_ID_CHARS
            and "\x00" not in found[name]
            for name in ("id", "type")
        )
        and isinstance(data, dict)
        and isinstance(data.get("object"), dict)
        # Every Stripe object has its id: handlers name what they change by it.
        and isinstance(data["object"].get("id"), str)
        and _well_typed(data["object"])
    )


# The fields the handlers read, with the types Stripe's API gives them. A signed body whose
# fields have other types is not Stripe's (a leaked secret, a bug): refused, never a 500.
_TEXT = ("id", "object", "status", "currency", "reason")
_AMOUNTS = ("amount", "amount_refunded")
# Stripe documents ids of up to 255 characters; the ones it sends are under 40, and the columns
# that keep them (ledger_entry.provider_id, external_refund.refund_id) hold 64. A longer one is
# refused here (400) rather than failing in the database (500).
_MOST_ID_CHARS = 64
_MOST_AMOUNT = 10**12
_REFERENCES = ("payment_intent", "charge", "transfer")


def _well_typed(obj: dict[str, Any], nested: bool = False) -> bool:
    def text(value: Any) -> bool:
        return isinstance(value, str) and len(value) <= _MOST_ID_CHARS

    def amount(value: Any) -> bool:
        return type(value) is int and 0 <= value <= _MOST_AMOUNT

    def reference(value: Any) -> bool:  # a bare id, or the object when it was expanded
        return text(value) or (isinstance(value, dict) and text(value.get("id")))

    def listed(value: Any) -> bool:  # a list object of Stripe objects (refunds, reversals)
        items = value.get("data", []) if isinstance(value, dict) else None
        return isinstance(items, list) and all(
            isinstance(item, dict) and text(item.get("id")) and _well_typed(item, True)
            for item in items
        )

    metadata = obj.get("metadata")
    return (
        all(obj.get(name) is None or text(obj[name]) for name in _TEXT)
        and all(obj.get(name) is None or amount(obj[name]) for name in _AMOUNTS)
        and all(obj.get(name) is None or reference(obj[name]) for name in _REFERENCES)
        and (
            metadata is None
            or (
                isinstance(metadata, dict)
                and all(isinstance(v, str) and len(v) <= 500 for v in metadata.values())
            )
        )
        and (
            nested
            or all(obj.get(name) is None or listed(obj[name]) for name in ("refunds", "reversals"))
        )
    )
