"""The Temporal SDK's own metrics (task latencies, slots, sticky cache, polls) in the worker's
one `/metrics`.

Why a private exporter read at scrape time, not a MetricBuffer: the SDK's Rust core computes
its histograms itself and serves them in Prometheus text (PrometheusConfig). A MetricBuffer
hands over every single observation and drops them once its buffer is full: bridging it
would mean re-implementing each histogram and draining on a timer, and losing data under
load. So the core serves on a loopback port nobody scrapes (chosen free at start), and
SdkMetrics, a prometheus_client collector, reads that text when the worker's own endpoint is
scraped and hands its families on: one endpoint per process, one scrape config, and if the
exporter does not answer the scrape still succeeds without the `temporal_` families.
"""

from __future__ import annotations

import logging
import socket
import urllib.request
from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig

log = logging.getLogger("fulfillment.metrics")

FAILURES = "fulfillment_temporal_sdk_metrics_failures"
FAILURES_HELP = "Scrapes that could not read the Temporal SDK's own metrics"


def loopback_port() -> int:
    """A free port on 127.0.0.1 (the SDK's exporter does not say which port 0 became)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def sdk_runtime(exporter_port: int) -> Runtime:
    """A runtime whose core serves its metrics on 127.0.0.1:`exporter_port`, named the
    Prometheus way (`_total` counters, durations in `_seconds`) like the rest of /metrics.
    One SDK counter is itself named `..._total`: it is served as
    `temporal_local_activity_total_total`."""
    return Runtime(
        telemetry=TelemetryConfig(
            metrics=PrometheusConfig(
                bind_address=f"127.0.0.1:{exporter_port}",
                counters_total_suffix=True,
                unit_suffix=True,
                durations_as_seconds=True,
            )
        )
    )


class SdkMetrics(Collector):
    def __init__(self, exporter_port: int, timeout: float = 2.0) -> None:
        self._url = f"http://127.0.0.1:{exporter_port}/metrics"
        self._timeout = timeout
        self._failures = 0  # yielded by this collector: a scrape shows its own failure

    def describe(self) -> Iterator[Metric]:
        # The SDK's names vary with what it has done: never read at registration.
        yield CounterMetricFamily(FAILURES, FAILURES_HELP)

    def collect(self) -> Iterator[Metric]:
        yield from self._sdk_families()
        yield CounterMetricFamily(FAILURES, FAILURES_HELP, value=self._failures)

    def _sdk_families(self) -> Iterator[Metric]:
        try:
            with urllib.request.urlopen(self._url, timeout=self._timeout) as answer:
                text = answer.read().decode("utf-8")
            families = list(text_string_to_metric_families(text))
        except (OSError, ValueError) as error:
            self._failures += 1
            log.warning("could not read the Temporal SDK's metrics: %r", error)
            return
        yield from families
