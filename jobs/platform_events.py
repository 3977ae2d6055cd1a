"""Order events to the platform's endpoints: the outbox loop every worker process runs beside
the reaper (worker.py; docs/platform-events.md).

Each turn fans new `order_event` rows out into deliveries, then sends the due ones: signed as
vendor notifications are (domain/signing.py) with each endpoint's own secret (and the one a
rotation replaced, until it expires), through the guarded sender that only reaches addresses
the outbound rules allow. A delivery is locked while it is sent (stores/platform_deliveries.py),
so several workers never send one twice at once; what happened is written in the same
transaction, so a worker that dies mid-send leaves the delivery pending and another sends it
again (at least once).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from prometheus_client import Counter
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.delivery_schedule import (
    DisablePolicy,
    RetryPolicy,
    gives_up,
    retry_wait,
    should_disable,
)
from domain.secret_rotation import secrets_in_use
from domain.signing import SIGNATURE_HEADER, sign_all
from models.base import utcnow
from models.platform_webhooks import KEPT_ATTEMPTS, PlatformDelivery, PlatformEndpoint
from stores.platform_deliveries import claim_due, fan_out, locked_endpoint

log = logging.getLogger("fulfillment.platform_events")

USER_AGENT = "fulfillment-platform-events/1"
DELIVERY_BATCH = 20
# Turns of fan-out or sending in a row before the loop sleeps: a backlog is worked through,
# yet the stop event is looked at.
MOST_TURNS = 50

ATTEMPTS = Counter(
    "fulfillment_platform_webhook_attempts_total",
    "Attempts to deliver an order event to a platform endpoint, by outcome",
    ["outcome"],
)
DISABLED = Counter(
    "fulfillment_platform_webhook_endpoints_disabled_total",
    "Platform endpoints disabled because they kept failing",
)


class Poster(Protocol):
    """activities/webhook_sender.WebhookSender: the URL judged again, a guarded POST."""

    async def post(
        self, url: str, body: bytes, headers: dict[str, str], timeout_seconds: float
    ) -> int: ...


@dataclass(frozen=True)
class OutboxSettings:
    poll_every: timedelta
    commit_lag: timedelta
    retry: RetryPolicy
    disable: DisablePolicy
    timeout_seconds: float


@dataclass(frozen=True)
class Attempt:
    at: datetime
    status_code: int | None
    error: str | None
    duration_ms: int

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300

    def as_json(self) -> dict[str, Any]:
        return {
            "at": self.at.isoformat(),
            "status_code": self.status_code,
            "error": self.error,
            "duration_ms": self.duration_ms,
        }


class PlatformOutbox:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        poster: Poster,
        settings: OutboxSettings,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._sessions = sessions
        self._poster = poster
        self._settings = settings
        self._clock = clock

    async def run(self, stop: asyncio.Event) -> None:
        every = self._settings.poll_every.total_seconds()
        while not stop.is_set():
            try:
                await self.turn()
            except Exception:
                log.exception("the platform event outbox failed; it tries again")
            try:
                await asyncio.wait_for(stop.wait(), timeout=every)
            except TimeoutError:
                pass

    async def turn(self) -> None:
        """Fan out what is new, then send what is due, until neither has more."""
        for _ in range(MOST_TURNS):
            async with self._sessions() as session, session.begin():
                fanned = await fan_out(session, self._clock(), self._settings.commit_lag)
            if not fanned.more:
                break
        for _ in range(MOST_TURNS):
            if not await self.send_due():
                break

    async def send_due(self) -> int:
        """Send one batch of due deliveries; how many were tried."""
        async with self._sessions() as session, session.begin():
            claimed = await claim_due(session, self._clock(), DELIVERY_BATCH)
            attempts = await asyncio.gather(
                *(self._attempt(delivery, endpoint) for delivery, endpoint in claimed)
            )
            for (delivery, endpoint), attempt in zip(claimed, attempts, strict=True):
                await self._record(session, delivery, endpoint.id, attempt)
        return len(claimed)

    async def _attempt(self, delivery: PlatformDelivery, endpoint: PlatformEndpoint) -> Attempt:
        body = json.dumps(delivery.payload, separators=(",", ":"), sort_keys=True).encode()
        started, at = time.monotonic(), self._clock()
        # During a rotation, signed with the new secret and the one it replaced (until that
        # one's expiry): a receiver that knows either verifies (domain/secret_rotation.py).
        signing = secrets_in_use(
            endpoint.secret, endpoint.previous_secret, endpoint.previous_secret_expires_at, at
        )
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign_all(signing, int(at.timestamp()), body),
            "Fulfillment-Event-Id": str(delivery.payload.get("id", "")),
            "Fulfillment-Event-Type": delivery.event_type,
            "User-Agent": USER_AGENT,
        }
        status: int | None = None
        error: str | None = None
        try:
            status = await self._poster.post(
                endpoint.url, body, headers, self._settings.timeout_seconds
            )
        except Exception as failure:  # refused URL, connection error, timeout: all retried
            error = f"{type(failure).__name__}: {failure}"[:500]
        duration = int((time.monotonic() - started) * 1000)
        attempt = Attempt(at, status, error, duration)
        ATTEMPTS.labels("succeeded" if attempt.succeeded else "failed").inc()
        return attempt

    async def _record(
        self, session: AsyncSession, delivery: PlatformDelivery, endpoint_id: str, attempt: Attempt
    ) -> None:
        now = self._clock()
        delivery.attempts += 1
        delivery.last_attempt_at = attempt.at
        delivery.last_status_code = attempt.status_code
        delivery.last_error = attempt.error
        delivery.attempt_log = [*delivery.attempt_log, attempt.as_json()][-KEPT_ATTEMPTS:]
        delivery.updated_at = now
        endpoint = await locked_endpoint(session, endpoint_id)
        if attempt.succeeded:
            delivery.status = "succeeded"
            if endpoint is not None:
                endpoint.consecutive_failures = 0
                endpoint.failing_since = None
        else:
            failures = _failures_in_a_row(delivery.attempt_log)
            if gives_up(delivery.created_at, now, self._settings.retry):
                delivery.status = "failed"
                log.warning(
                    "gave up delivering %s to endpoint %s after %d attempts",
                    delivery.payload.get("id"),
                    endpoint_id,
                    delivery.attempts,
                )
            else:
                delivery.next_attempt_at = now + retry_wait(failures, self._settings.retry)
            if endpoint is not None:
                self._count_failure(endpoint, attempt, now)
        session.add(delivery)
        if endpoint is not None:
            endpoint.updated_at = now
            session.add(endpoint)
        await session.flush()

    def _count_failure(self, endpoint: PlatformEndpoint, attempt: Attempt, now: datetime) -> None:
        endpoint.consecutive_failures += 1
        endpoint.failing_since = endpoint.failing_since or attempt.at
        if endpoint.status == "enabled" and should_disable(
            endpoint.consecutive_failures, endpoint.failing_since, now, self._settings.disable
        ):
            last = attempt.error or f"HTTP {attempt.status_code}"
            endpoint.status = "disabled"
            endpoint.disabled_at = now
            endpoint.disabled_reason = (
                f"{endpoint.consecutive_failures} failed deliveries in a row since "
                f"{endpoint.failing_since.isoformat()}; the last: {last}"
            )[:500]
            DISABLED.inc()
            # For operators: GET /v1/ops/webhook-endpoints lists it, and this line alerts.
            # Not the URL: a storefront may put a token in it.
            log.error("platform endpoint %s disabled: %s", endpoint.id, endpoint.disabled_reason)


def _failures_in_a_row(attempt_log: list[dict[str, Any]]) -> int:
    """Failed attempts since the last success: what the next wait doubles from."""
    count = 0
    for attempt in reversed(attempt_log):
        status = attempt.get("status_code")
        if status is not None and 200 <= status < 300:
            break
        count += 1
    return count


__all__ = ["ATTEMPTS", "DISABLED", "OutboxSettings", "PlatformOutbox", "Poster"]
