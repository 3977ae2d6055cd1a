"""Webhook delivery: each ``track_updated`` payload is POSTed to the configured URL, retried
with backoff when the receiver fails, in the background so that no API answer waits for it.

Shippo does not sign webhooks; the URL carries a secret token (``?token=...``). Deliveries live
in the store, so a restart resumes the queue. The updates of one parcel go out in the order they
happened (the next waits until the previous is delivered or given up); different parcels' go out
side by side.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from dataclasses import dataclass, replace
from typing import Any

import httpx

from .errors import ControlError
from .state import Store, new_id

log = logging.getLogger("providers.shippo_emulator.webhooks")

# Waits before each retry: seven attempts over about a minute. Shippo retries for longer; a
# development stack wants a quick answer, and tests pass a faster schedule still.
DEFAULT_RETRY_SCHEDULE = (1.0, 2.0, 4.0, 8.0, 16.0, 32.0)
DEFAULT_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class WebhookSettings:
    url: str | None = None
    retry_schedule: tuple[float, ...] = DEFAULT_RETRY_SCHEDULE
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS

    def __post_init__(self) -> None:
        if any(delay < 0 for delay in self.retry_schedule):
            raise ValueError("retry delays must not be negative")
        if self.timeout_seconds <= 0:
            raise ValueError("timeout_seconds must be positive")

    def changed_by(self, body: Any) -> WebhookSettings:
        """These settings with a control request's changes; what it leaves out stays."""
        if not isinstance(body, dict):
            raise ValueError("body must be a JSON object")
        changes: dict[str, Any] = {}
        if "url" in body:
            if body["url"] is not None and not isinstance(body["url"], str):
                raise ValueError("url must be a string or null")
            changes["url"] = body["url"] or None
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
            "retry_schedule": list(self.retry_schedule),
            "max_attempts": len(self.retry_schedule) + 1,
            "timeout_seconds": self.timeout_seconds,
        }


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def parse_schedule(text: str) -> tuple[float, ...]:
    """A schedule from the command line: comma-separated seconds, e.g. "1,2,4,8"."""
    return tuple(float(part) for part in text.split(",") if part.strip())


class WebhookDispatcher:
    def __init__(self, store: Store, settings: WebhookSettings) -> None:
        self.store = store
        self.settings = settings
        self._task: asyncio.Task[None] | None = None
        self._wake: asyncio.Event | None = None
        self._inflight: dict[str, asyncio.Task[None]] = {}
        self._http: httpx.AsyncClient | None = None
        self._dirty = False

    def ensure_running(self) -> None:
        """Start the delivery task in the running loop, once; safe to call on every request."""
        loop = asyncio.get_running_loop()
        if self._task is not None and not self._task.done() and self._task.get_loop() is loop:
            return
        self._wake = asyncio.Event()
        self._inflight = {}
        # trust_env off: a developer's HTTP proxy must not swallow calls to localhost.
        self._http = httpx.AsyncClient(trust_env=False)
        self._task = loop.create_task(self._run(), name="shippo-emulator-webhooks")

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

    def enqueue(self, payload: dict[str, Any], subject: str) -> None:
        """Queue one payload about ``subject`` (a parcel) for the URL configured now; without
        one, nothing is sent, as with a Shippo account that has no webhook."""
        if self.settings.url is None:
            return
        data = payload.get("data") or {}
        status = data.get("tracking_status") or {}
        delivery_id = new_id()
        self.store.deliveries[delivery_id] = {
            "id": delivery_id,
            "event": payload.get("event"),
            "subject": subject,
            "carrier": data.get("carrier"),
            "tracking_number": data.get("tracking_number"),
            "tracking_status": status.get("status"),
            "status_object_id": status.get("object_id"),
            "status": "pending",
            "tries": 0,
            "created": time.time(),
            "next_attempt_at": time.time(),
            "attempts": [],
            "payload": payload,
        }

    def wake(self) -> None:
        if self._wake is not None:
            self._wake.set()

    def deliveries(self, query: dict[str, str]) -> list[dict[str, Any]]:
        keys = ("carrier", "tracking_number", "status", "tracking_status")
        return [
            delivery
            for delivery in self.store.deliveries.values()
            if all(query.get(key) in (None, delivery[key]) for key in keys)
        ]

    async def resend(self, delivery_id: str) -> dict[str, Any]:
        """Send one payload again now, whatever its state: receivers must take duplicates."""
        delivery = self.store.deliveries.get(delivery_id)
        if delivery is None:
            raise ControlError(404, f"no such delivery: {delivery_id}")
        if self.settings.url is None:
            raise ControlError(409, "no webhook URL is configured")
        attempt = {**await self._post(delivery["payload"]), "resend": True}
        delivery["attempts"].append(attempt)
        if attempt["error"] is None:
            delivery["status"], delivery["next_attempt_at"] = "delivered", None
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
        """Start every delivery that is due and first in line for its parcel; next wake-up."""
        if self.settings.url is None:
            return None
        now, soonest = time.time(), None
        busy: set[str] = set()
        for delivery_id, delivery in self.store.deliveries.items():
            if delivery["status"] != "pending" or delivery["subject"] in busy:
                continue
            busy.add(delivery["subject"])
            if delivery_id in self._inflight:
                continue
            wait = delivery["next_attempt_at"] - now
            if wait <= 0:
                task = asyncio.get_running_loop().create_task(self._deliver(delivery_id))
                self._inflight[delivery_id] = task
            elif soonest is None or wait < soonest:
                soonest = wait
        return soonest

    async def _deliver(self, delivery_id: str) -> None:
        try:
            delivery = self.store.deliveries.get(delivery_id)
            if delivery is None:
                return
            attempt = await self._post(delivery["payload"])
            # Looked up again: a reset or a resend may have settled it while we waited.
            delivery = self.store.deliveries.get(delivery_id)
            if delivery is None or delivery["status"] != "pending":
                return
            delivery["attempts"].append({**attempt, "resend": False})
            delivery["tries"] += 1
            if attempt["error"] is None:
                delivery["status"], delivery["next_attempt_at"] = "delivered", None
            elif delivery["tries"] > len(self.settings.retry_schedule):
                delivery["status"], delivery["next_attempt_at"] = "failed", None
            else:
                wait = self.settings.retry_schedule[delivery["tries"] - 1]
                delivery["next_attempt_at"] = time.time() + wait
        except Exception:
            log.exception("webhook delivery %s failed unexpectedly", delivery_id)
        finally:
            self._inflight.pop(delivery_id, None)
            self._dirty = True
            self.wake()

    async def _post(self, payload: dict[str, Any]) -> dict[str, Any]:
        url, http = self.settings.url, self._http
        assert url is not None and http is not None
        attempt: dict[str, Any] = {"at": time.time(), "url": url, "status_code": None}
        try:
            response = await http.post(
                url,
                content=json.dumps(payload).encode(),
                headers={
                    "Content-Type": "application/json",
                    "User-Agent": "Shippo-Webhooks/1.0 (emulator)",
                },
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
