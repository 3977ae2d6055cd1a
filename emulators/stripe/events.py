"""Events: Stripe's record of each state change it announces, listed and sent as webhooks."""

from __future__ import annotations

import json
from typing import Any

from stripe._api_version import _ApiVersion
from stripe.params import EventListParams, EventRetrieveParams

from . import params as p
from .errors import invalid_request
from .routing import Endpoint, PathIds, retrieval
from .state import Store, StripeObject


def emit(store: Store, event_type: str, obj: StripeObject) -> StripeObject:
    """Record that ``obj`` changed; the event keeps the object as it is now, not as it becomes."""
    event: StripeObject = {
        "id": store.new_id("evt"),
        "object": "event",
        "account": None,
        "api_version": _ApiVersion.CURRENT,
        "context": None,
        "created": store.now(),
        "data": {"object": json.loads(json.dumps(obj))},
        "livemode": False,
        # Raised by the webhook queue when an endpoint is configured to receive this event.
        "pending_webhooks": 0,
        # Changes made through the emulator's controls have no API request, like Stripe's own
        # automatic changes (disputes, for one), whose events carry a null request id.
        "request": dict(store.request),
        "type": event_type,
    }
    store.add("event", event)
    store.fresh_events.append(event["id"])
    return event


def subject_id(event: StripeObject) -> str:
    """The object an event is about: deliveries about one object keep their order."""
    return str(event["data"]["object"]["id"])


retrieve_event = retrieval("event")


def list_events(store: Store, params: p.Params, _: PathIds) -> StripeObject:
    single = p.string(params, "type")
    several = p.strings(params, "types")
    if single is not None and several is not None:
        raise invalid_request("You may only specify one of these parameters: type, types.")
    wanted = [single] if single is not None else several
    delivered = params.get("delivery_success")
    success = None if delivered is None else p.boolean(params, "delivery_success")

    def keep(event: StripeObject) -> bool:
        if wanted is not None and not any(_type_matches(event["type"], w) for w in wanted):
            return False
        if success is None:
            return True
        return _delivered(store, event["id"]) is success

    # One exact type is read from the index; several, or a wildcard, are tested one by one.
    exact = single if single is not None and not single.endswith("*") else None
    return store.list_page("event", params, "/v1/events", {"type": exact}, keep)


def _type_matches(event_type: str, wanted: str) -> bool:
    # Stripe accepts one trailing wildcard, as in "charge.dispute.*".
    if wanted.endswith("*"):
        return event_type.startswith(wanted[:-1])
    return event_type == wanted


def _delivered(store: Store, event_id: str) -> bool | None:
    # Read without telling the journal: a listing changes nothing it reads.
    delivery: dict[str, Any] | None = dict.get(store.deliveries, event_id)
    if delivery is None:
        return None
    return bool(delivery["status"] == "delivered")


ENDPOINTS = [
    Endpoint("GET", "/v1/events", EventListParams, list_events),
    Endpoint("GET", "/v1/events/{id}", EventRetrieveParams, retrieve_event),
]
