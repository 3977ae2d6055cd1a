"""Signed webhook delivery of events, retried like Stripe (emulators/webhooks.py does
the sending, ordering and retries). Events about one object go out in the order they were
created."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from emulators.webhooks import DeliveryQueue
from emulators.webhooks import WebhookSettings as _BaseSettings

from .errors import ControlError
from .events import subject_id
from .state import Store, StripeObject

# Waits before each retry: eight attempts over about two minutes. Stripe itself retries for
# three days; a development stack wants a quick answer, and tests pass a faster schedule still.
DEFAULT_RETRY_SCHEDULE = (1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0)


def sign(payload: str, secret: str, timestamp: int) -> str:
    """The Stripe-Signature header: an HMAC-SHA256 of "timestamp.payload" under the secret."""
    digest = hmac.new(
        secret.encode(), f"{timestamp}.{payload}".encode(), hashlib.sha256
    ).hexdigest()
    return f"t={timestamp},v1={digest}"


@dataclass(frozen=True)
class WebhookSettings(_BaseSettings):
    retry_schedule: tuple[float, ...] = DEFAULT_RETRY_SCHEDULE
    secret: str | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.url is not None and not self.secret:
            # Stripe never sends an unsigned event, and a receiver must be able to verify it.
            raise ValueError("a webhook URL needs a webhook secret to sign with")

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "secret_set": self.secret is not None}

    def _text_fields(self) -> tuple[str, ...]:
        return ("url", "secret")


class WebhookDispatcher(DeliveryQueue):
    # Deliveries are keyed by event id; the object the event is about orders them.
    subject_key = "object"
    task_name = "stripe-emulator-webhooks"
    store: Store
    settings: WebhookSettings

    def enqueue(self, event_ids: Iterable[str]) -> None:
        """Queue new events for the endpoint configured now; without one, Stripe sends none."""
        if self.settings.url is None:
            return
        for event_id in event_ids:
            event = self.store.get("event", event_id)
            if event is None:
                continue
            event["pending_webhooks"] = 1
            self._queue(event_id, _new_delivery(event))

    def deliveries(self, event_id: str | None, status: str | None) -> list[dict[str, Any]]:
        # Deliveries are kept by event id: one event's is looked up, not searched for (and
        # read without telling the journal, which hears of records to be changed).
        if event_id is None:
            chosen = list(self.store.deliveries.values())
        else:
            found = dict.get(self.store.deliveries, event_id)
            chosen = [] if found is None else [found]
        return [d for d in chosen if status is None or d["status"] == status]

    async def resend(self, event_id: str) -> dict[str, Any]:
        """Send one event again now, whatever its state: receivers must take duplicates."""
        event = self.store.get("event", event_id)
        if event is None:
            raise ControlError(404, f"no such event: {event_id}")
        if self.settings.url is None:
            raise ControlError(409, "no webhook URL is configured")
        delivery = self.store.deliveries.setdefault(
            event_id,
            {
                **_new_delivery(event),
                "status": "failed",
                "tries": 0,
                "next_attempt_at": None,
                "attempts": [],
            },
        )
        return await self._send_again(event_id, delivery)

    def _request(self, delivery_id: str) -> tuple[bytes, dict[str, str]] | None:
        event = self.store.get("event", delivery_id)
        if event is None:
            return None
        secret = self.settings.secret
        assert secret is not None
        payload = json.dumps(event, indent=2)
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "Stripe-Signature": sign(payload, secret, int(time.time())),
            "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
        }
        return payload.encode(), headers

    def _delivered(self, delivery_id: str) -> None:
        event = self.store.get("event", delivery_id)
        if event is not None:
            event["pending_webhooks"] = 0


def _new_delivery(event: StripeObject) -> dict[str, Any]:
    return {"event": event["id"], "type": event["type"], "object": subject_id(event)}
