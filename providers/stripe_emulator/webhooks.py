"""Signed webhook delivery: each event is POSTed to the configured endpoint, retried like Stripe.

Deliveries live in the store, so a restart resumes the queue. Events about one object go out
in the order they were created (the next waits until the previous is delivered or given up);
events about different objects go out side by side. A slow or failing receiver never holds up
an API answer: delivery runs in its own task.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import httpx

from .errors import ControlError
from .events import subject_id
from .state import Store, StripeObject

log = logging.getLogger("providers.stripe_emulator.webhooks")

# Waits before each retry: eight attempts over about two minutes. Stripe itself retries for
# three days; a development stack wants a quick answer, and tests pass a faster schedule still.
DEFAULT_RETRY_SCHEDULE = (1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0)
DEFAULT_TIMEOUT_SECONDS = 10.0


def sign(payload: str, secret: str, timestamp: int) -> str:
    """The Stripe-Signature header: an HMAC-SHA256 of "timestamp.payload" under the secret."""
    digest = hmac.new(
        secret.encode(), f"{timestamp}.{payload}".encode(), hashlib.sha256
    ).hexdigest()
    return f"t={timestamp},v1={digest}"


@dataclass(frozen=True)
class WebhookSettings:
    url: str | None = None
    secret: str | None = None
    retry_schedule: tuple[float, ...] = DEFAULT_RETRY_SCHEDULE
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS

    def __post_init__(self) -> None:
        if self.url is not None and not self.secret:
            # Stripe never sends an unsigned event, and a receiver must be able to verify it.
            raise ValueError("a webhook URL needs a webhook secret to sign with")
        if any(delay < 0 for delay in self.retry_schedule):
            raise ValueError("retry delays must not be negative")
        if self.timeout_seconds <= 0:
            raise ValueError("timeout_seconds must be positive")

    def changed_by(self, body: Any) -> WebhookSettings:
        """These settings with a control request's changes; what it leaves out stays."""
        if not isinstance(body, dict):
            raise ValueError("body must be a JSON object")
        changes: dict[str, Any] = {}
        for key in ("url", "secret"):
            if key in body:
                if body[key] is not None and not isinstance(body[key], str):
                    raise ValueError(f"{key} must be a string or null")
                changes[key] = body[key] or None
        if "retry_schedule" in body:
            schedule = body["retry_schedule"]
            if not isinstance(schedule, list) or not all(_is_number(d) for d in schedule):
                raise ValueError("retry_schedule must be a list of seconds")
            changes["retry_schedule"] = tuple(float(delay) for delay in schedule)
        if "timeout_seconds" in body:
            if not _is_number(body["timeout_seconds"]):
                raise ValueError("timeout_seconds must be a number")
            changes["timeout_seconds"] = float(body["timeout_seconds"])
        return replace(self, **changes)

    def describe(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "secret_set": self.secret is not None,
            "retry_schedule": list(self.retry_schedule),
            "max_attempts": len(self.retry_schedule) + 1,
            "timeout_seconds": self.timeout_seconds,
        }


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


class WebhookDispatcher:
    def __init__(self, store: Store, settings: WebhookSettings) -> None:
        self.store = store
        self.settings = settings
        self._task: asyncio.Task[None] | None = None
        self._wake: asyncio.Event | None = None
        self._inflight: dict[str, asyncio.Task[None]] = {}
        self._http: httpx.AsyncClient | None = None
        self._dirty = False
        # The deliveries still to make, in event order, so a wake-up need not scan them all.
        self._pending = dict.fromkeys(
            event_id
            for event_id, delivery in store.deliveries.items()
            if delivery["status"] == "pending"
        )

    def ensure_running(self) -> None:
        """Start the delivery task in the running loop, once; safe to call on every request."""
        loop = asyncio.get_running_loop()
        if self._task is not None and not self._task.done() and self._task.get_loop() is loop:
            return
        self._wake = asyncio.Event()
        self._inflight = {}
        # One client for every attempt: building one (its TLS context above all) costs more
        # than a delivery to localhost. trust_env off: a developer's HTTP proxy must not
        # swallow calls to localhost.
        self._http = httpx.AsyncClient(trust_env=False)
        self._task = loop.create_task(self._run(), name="stripe-emulator-webhooks")

    async def stop(self) -> None:
        tasks = [task for task in (self._task, *self._inflight.values()) if task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._http is not None:
            await self._http.aclose()
        self._task, self._inflight, self._http = None, {}, None
        self._save_if_dirty()

    def configure(self, settings: WebhookSettings) -> None:
        self.settings = settings
        self.wake()

    def enqueue(self, event_ids: Iterable[str]) -> None:
        """Queue new events for the endpoint configured now; without one, Stripe sends none."""
        if self.settings.url is None:
            return
        for event_id in event_ids:
            event = self.store.get("event", event_id)
            if event is None:
                continue
            event["pending_webhooks"] = 1
            self.store.deliveries[event_id] = _new_delivery(event, status="pending")
            self._pending[event_id] = None

    def wake(self) -> None:
        if self._wake is not None:
            self._wake.set()

    def deliveries(self, event_id: str | None, status: str | None) -> list[dict[str, Any]]:
        return [
            delivery
            for delivery in self.store.deliveries.values()
            if (event_id is None or delivery["event"] == event_id)
            and (status is None or delivery["status"] == status)
        ]

    async def resend(self, event_id: str) -> dict[str, Any]:
        """Send one event again now, whatever its state: receivers must take duplicates."""
        event = self.store.get("event", event_id)
        if event is None:
            raise ControlError(404, f"no such event: {event_id}")
        if self.settings.url is None:
            raise ControlError(409, "no webhook URL is configured")
        attempt = {**await self._post(event), "resend": True}
        delivery = self.store.deliveries.setdefault(event_id, _new_delivery(event, status="failed"))
        delivery["attempts"].append(attempt)
        if attempt["error"] is None:
            _delivered(delivery, event)
        self.store.save()
        self.wake()
        return delivery

    async def _run(self) -> None:
        assert self._wake is not None
        while True:
            self._wake.clear()
            delay = self._launch_due()
            self._save_if_dirty()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=delay)

    def _launch_due(self) -> float | None:
        """Start every delivery that is due and first in line for its object; next wake-up."""
        if self.settings.url is None:
            return None
        now, soonest = time.time(), None
        busy: set[str] = set()
        for event_id in list(self._pending):
            delivery = self.store.deliveries.get(event_id)
            if delivery is None or delivery["status"] != "pending":
                # Settled by a resend, or forgotten by a reset.
                del self._pending[event_id]
                continue
            if delivery["object"] in busy:
                continue
            busy.add(delivery["object"])
            if event_id in self._inflight:
                continue
            wait = delivery["next_attempt_at"] - now
            if wait <= 0:
                task = asyncio.get_running_loop().create_task(self._deliver(event_id))
                self._inflight[event_id] = task
            elif soonest is None or wait < soonest:
                soonest = wait
        return soonest

    async def _deliver(self, event_id: str) -> None:
        try:
            event = self.store.get("event", event_id)
            if event is None:
                return
            attempt = await self._post(event)
            # Looked up again: a reset or a resend may have settled it while we waited.
            delivery = self.store.deliveries.get(event_id)
            if delivery is None or delivery["status"] != "pending":
                return
            delivery["attempts"].append({**attempt, "resend": False})
            delivery["tries"] += 1
            if attempt["error"] is None:
                _delivered(delivery, event)
            elif delivery["tries"] > len(self.settings.retry_schedule):
                delivery["status"] = "failed"
                delivery["next_attempt_at"] = None
            else:
                wait = self.settings.retry_schedule[delivery["tries"] - 1]
                delivery["next_attempt_at"] = time.time() + wait
        except Exception:
            log.exception("webhook delivery of %s failed unexpectedly", event_id)
        finally:
            self._inflight.pop(event_id, None)
            self._dirty = True
            self.wake()

    async def _post(self, event: StripeObject) -> dict[str, Any]:
        url, secret, http = self.settings.url, self.settings.secret, self._http
        assert url is not None and secret is not None and http is not None
        payload = json.dumps(event, indent=2)
        timestamp = int(time.time())
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "Stripe-Signature": sign(payload, secret, timestamp),
            "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
        }
        attempt: dict[str, Any] = {"at": timestamp, "url": url, "status_code": None}
        try:
            response = await http.post(
                url,
                content=payload.encode(),
                headers=headers,
                timeout=self.settings.timeout_seconds,
            )
        except httpx.HTTPError as exc:
            return {**attempt, "error": f"{type(exc).__name__}: {exc}"}
        attempt["status_code"] = response.status_code
        ok = 200 <= response.status_code < 300
        return {**attempt, "error": None if ok else f"HTTP {response.status_code}"}

    def _save_if_dirty(self) -> None:
        # Attempts that end together are written once, not once each.
        if self._dirty:
            self._dirty = False
            self.store.save()


def _new_delivery(event: StripeObject, *, status: str) -> dict[str, Any]:
    return {
        "event": event["id"],
        "type": event["type"],
        "object": subject_id(event),
        "status": status,
        "tries": 0,
        "next_attempt_at": time.time() if status == "pending" else None,
        "attempts": [],
    }


def _delivered(delivery: dict[str, Any], event: StripeObject) -> None:
    delivery["status"] = "delivered"
    delivery["next_attempt_at"] = None
    event["pending_webhooks"] = 0


def parse_schedule(text: str) -> Sequence[float]:
    """A schedule from the command line: comma-separated seconds, e.g. "1,2,4,8"."""
    return tuple(float(part) for part in text.split(",") if part.strip())
