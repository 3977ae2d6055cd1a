"""Business state as Prometheus gauges, read from PostgreSQL at scrape time
(stores/business_state.py).

prometheus_client collects on its HTTP server's thread, while the database pool lives on the
worker's event loop: the read is handed to that loop and waited for, bounded in time. Values
are kept for `ttl` seconds so several scrapers (or a refreshing dashboard) cost one read.
A scrape never fails because PostgreSQL does: it serves the last values read (or none before
the first read), counts the failure, and says how old the values are.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from domain.attention import AttentionReason
from domain.status import OrderStatus, PayoutStatus
from stores.business_state import BusinessState

log = logging.getLogger("fulfillment.metrics")

# Reasons and statuses a dashboard or an alert names are always there, at 0 when none: an
# absent series would make `> 0` alerts silently never fire.
PAYOUT_STATES = (PayoutStatus.PENDING, PayoutStatus.RELEASED, "failed", PayoutStatus.REVERSED)


class StateCollector(Collector):
    def __init__(
        self,
        read: Callable[[], Coroutine[Any, Any, BusinessState]],
        loop: asyncio.AbstractEventLoop,
        ttl: float = 5.0,
        timeout: float = 3.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._read, self._loop = read, loop
        self._ttl, self._timeout, self._clock = ttl, timeout, clock
        self._lock = threading.Lock()
        self._state: BusinessState | None = None
        self._read_at = float("-inf")
        # Counted here, not by a Counter of the registry: that one would be collected before
        # this collector, and a scrape would show its own failure only in the next one.
        self._failures = 0

    def describe(self) -> Iterator[Metric]:
        # Without it, registering would collect, and so read the database from the loop's own
        # thread while that loop waits for the read: a deadlock.
        yield from _families(None, None)
        yield self._failure_family()

    def collect(self) -> Iterator[Metric]:
        with self._lock:  # one read at a time; the others wait for it and share it
            if self._clock() - self._read_at >= self._ttl:
                self._refresh()
            state, age = self._state, self._clock() - self._read_at
        yield from _families(state, age if state is not None else None)
        yield self._failure_family()

    def _failure_family(self) -> CounterMetricFamily:
        return CounterMetricFamily(
            "fulfillment_state_read_failures",
            "Scrapes that could not read the business state from PostgreSQL (last values served)",
            value=self._failures,
        )

    def _refresh(self) -> None:
        future = asyncio.run_coroutine_threadsafe(self._read(), self._loop)
        try:
            self._state = future.result(timeout=self._timeout)
            self._read_at = self._clock()
        except Exception as error:  # TimeoutError included: the database is down or slow
            future.cancel()
            self._failures += 1
            log.warning("could not read the business state for /metrics: %r", error)


def _families(state: BusinessState | None, age: float | None) -> Iterator[GaugeMetricFamily]:
    orders = GaugeMetricFamily(
        "fulfillment_orders", "Orders by status (PostgreSQL)", labels=["status"]
    )
    attention = GaugeMetricFamily(
        "fulfillment_vendor_orders_needing_attention",
        "Vendor orders that need a person, by reason (PostgreSQL)",
        labels=["reason"],
    )
    payouts = GaugeMetricFamily(
        "fulfillment_payouts_cents",
        "Vendor payouts in minor units by state (pending, released, failed, reversed)",
        labels=["state", "currency"],
    )
    fresh = GaugeMetricFamily(
        "fulfillment_state_age_seconds", "Age of the business state served (cached reads)"
    )
    if state is not None:
        for status in {*OrderStatus, *state.orders_by_status}:
            orders.add_metric([str(status)], state.orders_by_status.get(status, 0))
        for reason in {*AttentionReason, *state.attention_by_reason}:
            attention.add_metric([str(reason)], state.attention_by_reason.get(reason, 0))
        currencies = {currency for _, currency in state.payout_cents}
        for payout_state in {*map(str, PAYOUT_STATES), *(s for s, _ in state.payout_cents)}:
            for currency in sorted(currencies):
                cents = state.payout_cents.get((payout_state, currency), 0)
                payouts.add_metric([payout_state, currency], cents)
    if age is not None:
        fresh.add_metric([], age)
    yield from (orders, attention, payouts, fresh)
