"""Webhook delivery of ``track_updated`` payloads (emulators/webhooks.py does the
sending, ordering and retries).

Shippo does not sign webhooks; the URL carries a secret token (``?token=...``). The updates of
one parcel go out in the order they happened.
"""

from __future__ import annotations

import json
import time
from typing import Any

from emulators.webhooks import DeliveryQueue
from emulators.webhooks import WebhookSettings as WebhookSettings

from .errors import ControlError
from .state import Store, new_id

# Waits before each retry: seven attempts over about a minute. Shippo retries for longer; a
# development stack wants a quick answer, and tests pass a faster schedule still.
DEFAULT_RETRY_SCHEDULE = (1.0, 2.0, 4.0, 8.0, 16.0, 32.0)


class WebhookDispatcher(DeliveryQueue):
    task_name = "shippo-emulator-webhooks"
    store: Store

    def enqueue(self, payload: dict[str, Any], subject: str) -> None:
        """Queue one payload about ``subject`` (a parcel) for the URL configured now; without
        one, nothing is sent, as with a Shippo account that has no webhook."""
        if self.settings.url is None:
            return
        data = payload.get("data") or {}
        status = data.get("tracking_status") or {}
        delivery_id = new_id()
        delivery = {
            "id": delivery_id,
            "event": payload.get("event"),
            "subject": subject,
            "carrier": data.get("carrier"),
            "tracking_number": data.get("tracking_number"),
            "tracking_status": status.get("status"),
            "status_object_id": status.get("object_id"),
            "created": time.time(),
            "payload": payload,
        }
        self._queue(delivery_id, delivery)
        self.store.index_delivery(delivery_id, delivery)

    def deliveries(self, query: dict[str, str]) -> list[dict[str, Any]]:
        keys = ("carrier", "tracking_number", "status", "tracking_status")
        carrier, number = query.get("carrier"), query.get("tracking_number")
        # One parcel's are read from the store's index; a wider question reads them all.
        if carrier is not None and number is not None:
            chosen = self.store.deliveries_about(carrier, number)
        else:
            chosen = list(self.store.deliveries.values())
        return [d for d in chosen if all(query.get(key) in (None, d[key]) for key in keys)]

    async def resend(self, delivery_id: str) -> dict[str, Any]:
        """Send one payload again now, whatever its state: receivers must take duplicates."""
        delivery = self.store.deliveries.get(delivery_id)
        if delivery is None:
            raise ControlError(404, f"no such delivery: {delivery_id}")
        if self.settings.url is None:
            raise ControlError(409, "no webhook URL is configured")
        return await self._send_again(delivery_id, delivery)

    def _request(self, delivery_id: str) -> tuple[bytes, dict[str, str]] | None:
        delivery = self.store.deliveries.get(delivery_id)
        if delivery is None:
            return None
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "Shippo-Webhooks/1.0 (emulator)",
        }
        return json.dumps(delivery["payload"]).encode(), headers
