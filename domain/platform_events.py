"""Which order events the platform (storefront) hears of, and how each one reads to it.

Pure rules: the outbox (jobs/platform_events.py) reads the append-only `order_event` rows and
asks here which public type a row is, if any, and what its payload is. Internal events that
only operators care about (attention raised or cleared, a vendor order created) are not sent.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

# internal `order_event.type` -> the public event type. The same name where they agree.
PUBLIC_TYPE_OF: Mapping[str, str] = {
    "order.confirmed": "order.confirmed",
    "order.rejected": "order.rejected",
    "order.in_fulfillment": "order.in_fulfillment",
    "order.completed": "order.completed",
    "order.cancelled": "order.cancelled",
    "vendor_order.shipped": "vendor_order.shipped",
    "vendor_order.delivered": "vendor_order.delivered",
    "vendor_order.cancelled": "vendor_order.cancelled",
    "vendor_order.completed": "vendor_order.completed",
    # The supplier's answers (issue 13, docs/supplier-acknowledgement.md).
    "vendor_order.accepted": "vendor_order.accepted",
    "vendor_order.rejected": "vendor_order.rejected",
    "vendor_order.rerouted": "vendor_order.rerouted",
    "return.requested": "return.requested",
    "return.refunded": "return.refunded",
    "return.expired": "return.expired",
    "payout.released": "payout.released",
    "refund.created": "refund.created",
    "refund.succeeded": "refund.succeeded",
}
PUBLIC_EVENT_TYPES: frozenset[str] = frozenset(PUBLIC_TYPE_OF.values())
ALL_EVENTS = "*"
EVENT_ID_PREFIX = "evt_"

# A carrier's public tracking page; an unknown carrier gets Shippo's, which knows them all.
_TRACKING_PAGES = {
    "usps": "https://tools.usps.com/go/TrackConfirmAction_input?origTrackNum=",
    "ups": "https://www.ups.com/track?tracknum=",
    "fedex": "https://www.fedex.com/fedextrack/?trknbr=",
    "dhl_express": "https://www.dhl.com/en/express/tracking.html?AWB=",
}
_SHIPPO_TRACKING = "https://goshippo.com/tracking/{carrier}/"


def public_type(internal_type: str) -> str | None:
    """The public type of an internal event, None when the platform is not told of it."""
    return PUBLIC_TYPE_OF.get(internal_type)


def event_id(order_event_id: int) -> str:
    """The event's id as the platform sees it: stable, the same on every retry and replay."""
    return f"{EVENT_ID_PREFIX}{order_event_id}"


def tracking_url(carrier: str, tracking_number: str) -> str:
    token = carrier.strip().lower()
    page = _TRACKING_PAGES.get(token) or _SHIPPO_TRACKING.format(carrier=token or "unknown")
    return page + tracking_number


def normal_subscription(event_types: Iterable[str]) -> list[str]:
    """The types an endpoint subscribes to, sorted and without repeats; `["*"]` for all.
    Raises ValueError naming an unknown type (the API's 422)."""
    chosen = set(event_types)
    if not chosen:
        raise ValueError('event_types needs at least one type, or ["*"] for all')
    if ALL_EVENTS in chosen:
        if len(chosen) > 1:
            raise ValueError('"*" already means every type: give it alone')
        return [ALL_EVENTS]
    unknown = sorted(chosen - PUBLIC_EVENT_TYPES)
    if unknown:
        raise ValueError(f"unknown event types {unknown}; known: {sorted(PUBLIC_EVENT_TYPES)}")
    return sorted(chosen)


def subscribes(event_types: Iterable[str], public: str) -> bool:
    chosen = set(event_types)
    return ALL_EVENTS in chosen or public in chosen


def payload(
    order_event_id: int,
    public: str,
    at: datetime,
    order_id: str,
    vendor_order_id: str | None,
    detail: Mapping[str, Any],
) -> dict[str, Any]:
    """The body one event is delivered with: `{id, type, created_at, data}`."""
    data: dict[str, Any] = {"order_id": order_id, "vendor_order_id": vendor_order_id}
    data.update({key: value for key, value in detail.items() if key not in data})
    if public == "vendor_order.shipped" and detail.get("tracking_number"):
        data["tracking_url"] = tracking_url(
            str(detail.get("carrier") or ""), str(detail["tracking_number"])
        )
    return {
        "id": event_id(order_event_id),
        "type": public,
        "created_at": at.isoformat(),
        "data": data,
    }


__all__ = [
    "ALL_EVENTS",
    "PUBLIC_EVENT_TYPES",
    "PUBLIC_TYPE_OF",
    "event_id",
    "new_endpoint_id",
    "normal_subscription",
    "payload",
    "public_type",
    "subscribes",
    "tracking_url",
]


def new_endpoint_id() -> str:
    return "we_" + secrets.token_hex(8)
