"""The worker's `/metrics` server itself (worker.serve_metrics), with the real SDK exporter
and a PostgreSQL that does not answer: a scrape still succeeds, and stopping frees the port."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from devstack import free_port
from models.settings import Settings
from stores.db import make_engine, make_sessionmaker
from temporal.telemetry import loopback_port, sdk_runtime
from worker import serve_metrics


async def test_with_the_database_down_the_workers_metrics_still_answer_and_count_it() -> None:
    port, exporter = free_port(), loopback_port()
    runtime = sdk_runtime(exporter)  # serves the SDK's exporter for as long as it lives
    settings = Settings(FULFILLMENT_WORKER_METRICS_PORT=port)
    # Nothing listens there: every read of the business state fails at once.
    engine = make_engine(f"postgresql+psycopg://nobody@127.0.0.1:{free_port()}/none")
    stop = serve_metrics(settings, make_sessionmaker(engine), exporter)
    url = f"http://127.0.0.1:{port}/metrics"
    try:
        # From another thread: the state is read on this loop, which must stay free.
        answer = await asyncio.to_thread(httpx.get, url, timeout=30)
    finally:
        stop()
        await engine.dispose()
    assert answer.status_code == 200
    families = {f.name: f for f in text_string_to_metric_families(answer.text)}
    failures = families["fulfillment_state_read_failures"].samples
    assert [s.value for s in failures if s.name.endswith("_total")] == [1]
    assert families["fulfillment_orders"].samples == []  # no state was ever read
    assert runtime is not None
    with pytest.raises(httpx.ConnectError):  # stopped: the port is closed
        await asyncio.to_thread(httpx.get, url, timeout=5)


def test_port_zero_serves_no_metrics_and_needs_no_stopping() -> None:
    settings = Settings(FULFILLMENT_WORKER_METRICS_PORT=0)
    assert settings.worker_metrics_port == 0
    stop = serve_metrics(
        settings, make_sessionmaker(make_engine("postgresql+psycopg://x@127.0.0.1/x")), None
    )
    assert stop() is None
