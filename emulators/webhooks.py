"""Webhook delivery as both emulators do it: each delivery is POSTed to the configured URL and
retried on a schedule when the receiver fails, in the background so no API answer waits for it.

Deliveries live in the emulator's store (``store.deliveries``: id -> delivery dict), so a
restart resumes the queue. Deliveries about one subject (an object, a parcel) go out in the
order they were queued, the next waiting until the previous is delivered or given up;
different subjects' go out side by side. Each emulator says what a delivery sends
(:meth:`DeliveryQueue._request`) and what being delivered changes (:meth:`_delivered`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

import httpx

log = logging.getLogger("emulators.webhooks")

DEFAULT_TIMEOUT_SECONDS = 10.0


class DeliveryStore(Protocol):
    deliveries: dict[str, dict[str, Any]]

    def save(self) -> None: ...


@dataclass(frozen=True)
class WebhookSettings:
    url: str | None = None
    retry_schedule: tuple[float, ...] = (1.0, 2.0, 4.0, 8.0, 16.0, 32.0)
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS

    def __post_init__(self) -> None:
        if any(delay < 0 for delay in self.retry_schedule):
            raise ValueError("retry delays must not be negative")
        if self.timeout_seconds <= 0:
            raise ValueError("timeout_seconds must be positive")

    def changed_by(self, body: Any) -> Any:
        """These settings with a control request's changes; what it leaves out stays."""
        if not isinstance(body, dict):
            raise ValueError("body must be a JSON object")
        changes: dict[str, Any] = {}
        for key in self._text_fields():
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
            "retry_schedule": list(self.retry_schedule),
            "max_attempts": len(self.retry_schedule) + 1,
            "timeout_seconds": self.timeout_seconds,
        }

    def _text_fields(self) -> tuple[str, ...]:
        return ("url",)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def parse_schedule(text: str) -> Sequence[float]:
    """A schedule from the command line: comma-separated seconds, e.g. "1,2,4,8"."""
    return tuple(float(part) for part in text.split(",") if part.strip())


class DeliveryQueue:
    """Sends the store's pending deliveries. A delivery dict carries ``status`` (pending,
    delivered, failed), ``tries``, ``next_attempt_at``, ``attempts`` and the key named by
    ``subject_key``."""

    subject_key = "subject"
    task_name = "emulator-webhooks"

    def __init__(self, store: DeliveryStore, settings: WebhookSettings) -> None:
        self.store = store
        self.settings = settings
        self._task: asyncio.Task[None] | None = None
        self._wake: asyncio.Event | None = None
        self._inflight: dict[str, asyncio.Task[None]] = {}
        self._http: httpx.AsyncClient | None = None
        self._dirty = False
        # The deliveries still to make, in queue order, so a wake-up need not scan them all.
        self._pending = dict.fromkeys(
            delivery_id
            for delivery_id, delivery in store.deliveries.items()
            if delivery["status"] == "pending"
        )

    def ensure_running(self) -> None:
        """Start the delivery task in the running loop, once; safe to call on every request."""
        loop = asyncio.get_running_loop()
        if self._task is not None and not self._task.done() and self._task.get_loop() is loop:
            return
        self._wake = asyncio.Event()
        self._inflight = {}
        # One client for every attempt. trust_env off: a developer's HTTP proxy must not
        # swallow calls to localhost.
        self._http = httpx.AsyncClient(trust_env=False)
        self._task = loop.create_task(self._run(), name=self.task_name)

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

    def wake(self) -> None:
        if self._wake is not None:
            self._wake.set()

    def _queue(self, delivery_id: str, delivery: dict[str, Any]) -> None:
        delivery.update(status="pending", tries=0, next_attempt_at=time.time())
        delivery.setdefault("attempts", [])
        self.store.deliveries[delivery_id] = delivery
        self._pending[delivery_id] = None

    async def _send_again(self, delivery_id: str, delivery: dict[str, Any]) -> dict[str, Any]:
        """One more attempt now, whatever the delivery's state (receivers take duplicates)."""
        sent = await self._attempt(delivery_id)
        assert sent is not None, "resend only deliveries whose subject exists"
        attempt = {**sent, "resend": True}
        delivery["attempts"].append(attempt)
        if attempt["error"] is None:
            self._settle(delivery_id, delivery, "delivered")
        self.store.save()
        self.wake()
        return delivery

    def _request(self, delivery_id: str) -> tuple[bytes, dict[str, str]] | None:
        """The body and headers to POST for this delivery (None: its subject is gone)."""
        raise NotImplementedError

    def _delivered(self, delivery_id: str) -> None:
        """What a successful delivery changes besides the delivery itself."""

    async def _run(self) -> None:
        assert self._wake is not None
        while True:
            self._wake.clear()
            delay = self._launch_due()
            self._save_if_dirty()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=delay)

    def _launch_due(self) -> float | None:
        """Start every delivery that is due and first in line for its subject; next wake-up."""
        if self.settings.url is None:
            return None
        now, soonest = time.time(), None
        busy: set[str] = set()
        for delivery_id in list(self._pending):
            delivery = self.store.deliveries.get(delivery_id)
            if delivery is None or delivery["status"] != "pending":
                # Settled by a resend, or forgotten by a reset.
                del self._pending[delivery_id]
                continue
            subject = delivery[self.subject_key]
            if subject in busy:
                continue
            busy.add(subject)
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
            attempt = await self._attempt(delivery_id)
            if attempt is None:
                return
            # Looked up again: a reset or a resend may have settled it while we waited.
            delivery = self.store.deliveries.get(delivery_id)
            if delivery is None or delivery["status"] != "pending":
                return
            delivery["attempts"].append({**attempt, "resend": False})
            delivery["tries"] += 1
            if attempt["error"] is None:
                self._settle(delivery_id, delivery, "delivered")
            elif delivery["tries"] > len(self.settings.retry_schedule):
                self._settle(delivery_id, delivery, "failed")
            else:
                wait = self.settings.retry_schedule[delivery["tries"] - 1]
                delivery["next_attempt_at"] = time.time() + wait
        except Exception:
            log.exception("webhook delivery %s failed unexpectedly", delivery_id)
        finally:
            self._inflight.pop(delivery_id, None)
            self._dirty = True
            self.wake()

    def _settle(self, delivery_id: str, delivery: dict[str, Any], status: str) -> None:
        delivery["status"], delivery["next_attempt_at"] = status, None
        if status == "delivered":
            self._delivered(delivery_id)

    async def _attempt(self, delivery_id: str) -> dict[str, Any] | None:
        """One POST and how it went; None when there is nothing to send any more."""
        url, http = self.settings.url, self._http
        assert url is not None and http is not None
        request = self._request(delivery_id)
        if request is None:
            return None
        body, headers = request
        attempt: dict[str, Any] = {"at": time.time(), "url": url, "status_code": None}
        try:
            response = await http.post(
                url, content=body, headers=headers, timeout=self.settings.timeout_seconds
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
