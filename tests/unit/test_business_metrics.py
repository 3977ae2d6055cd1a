"""The business metrics' own rules: how a checkout's answer is counted, and a scrape that
survives the database or the Temporal SDK's exporter not answering."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from api.checkout_metrics import outcome_of
from api.errors import Problem
from domain.errors import ErrorCode, InsufficientStock
from jobs.state_metrics import StateCollector
from stores.business_state import BusinessState
from temporal.telemetry import SdkMetrics, loopback_port


def test_a_checkout_is_confirmed_refused_with_its_code_timed_out_or_an_error() -> None:
    assert outcome_of(None) == ("confirmed", "none")
    assert outcome_of(Problem(ErrorCode.INSUFFICIENT_STOCK, "sold out")) == (
        "refused",
        "insufficient_stock",
    )
    assert outcome_of(InsufficientStock([])) == ("refused", "insufficient_stock")
    assert outcome_of(Problem(ErrorCode.PAYMENT_DECLINED, "no")) == ("refused", "payment_declined")
    assert outcome_of(Problem(ErrorCode.TIMEOUT, "later")) == ("timeout", "timeout")
    assert outcome_of(Problem(ErrorCode.UNAVAILABLE, "down")) == ("error", "unavailable")
    assert outcome_of(RuntimeError("bug")) == ("error", "internal_error")


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    """An event loop on its own thread, as the worker's is beside the metrics server's."""
    running = asyncio.new_event_loop()
    thread = threading.Thread(target=running.run_forever, daemon=True)
    thread.start()
    try:
        yield running
    finally:
        running.call_soon_threadsafe(running.stop)
        thread.join(timeout=5)
        running.close()


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _samples(registry: CollectorRegistry) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = generate_latest(registry).decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_a_scrape_with_the_database_down_serves_the_last_state_and_counts_the_failure(
    loop: asyncio.AbstractEventLoop,
) -> None:
    reads: list[str] = []
    state = BusinessState(
        orders_by_status={"confirmed": 3},
        attention_by_reason={"payout_failed": 2},
        payout_cents={("failed", "usd"): 4500},
    )

    async def read() -> BusinessState:
        reads.append("read")
        if len(reads) > 1:
            raise OSError("connection refused")
        return state

    clock = Clock()
    registry = CollectorRegistry()
    registry.register(StateCollector(read, loop, ttl=5.0, clock=clock))
    first = _samples(registry)
    clock.now = 1.0
    cached = _samples(registry)  # within the ttl: no second read
    clock.now = 10.0
    stale = _samples(registry)  # the read fails: the last values, 10 s old

    assert len(reads) == 2
    reason = ("fulfillment_vendor_orders_needing_attention", (("reason", "payout_failed"),))
    assert first[reason] == cached[reason] == stale[reason] == 2
    assert stale[("fulfillment_vendor_orders_needing_attention", (("reason", "dispute"),))] == 0
    assert stale[("fulfillment_orders", (("status", "confirmed"),))] == 3
    assert stale[("fulfillment_payouts_cents", (("currency", "usd"), ("state", "failed")))] == 4500
    assert stale[("fulfillment_state_age_seconds", ())] == 10.0
    failures = ("fulfillment_state_read_failures_total", ())
    assert (first[failures], cached[failures], stale[failures]) == (0, 0, 1)


def test_before_any_read_succeeds_a_scrape_serves_no_state_rather_than_failing(
    loop: asyncio.AbstractEventLoop,
) -> None:
    async def read() -> BusinessState:
        await asyncio.sleep(10)  # a database that hangs: the scrape gives up after 0.2 s
        return BusinessState()

    registry = CollectorRegistry()
    registry.register(StateCollector(read, loop, timeout=0.2))
    served = _samples(registry)
    assert not any(name == "fulfillment_orders" for name, _ in served)
    assert served[("fulfillment_state_read_failures_total", ())] == 1


def test_without_the_sdks_exporter_a_scrape_still_answers_and_counts_it() -> None:
    registry = CollectorRegistry()
    registry.register(SdkMetrics(loopback_port(), timeout=1.0))  # nothing listens there
    served = _samples(registry)
    assert not any(name.startswith("temporal_") for name, _ in served)
    assert served[("fulfillment_temporal_sdk_metrics_failures_total", ())] == 1
