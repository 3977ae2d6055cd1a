"""Traces across the saga: OpenTelemetry, set up once per process (API, worker).

One trace follows a checkout from the request (FastAPI's instrumentation, api/app.py) through
Temporal's interceptor (temporal/client.py: the update-with-start, the workflow, every activity,
child workflows) to the HTTP calls Stripe's client (httpx) and Shippo's (requests) make, and a
vendor's ship request through its update the same way. Where the spans go is one setting,
FULFILLMENT_TRACES:

- `otlp`: OTLP over HTTP, configured by the standard OTEL_EXPORTER_OTLP_* variables (a
  collector, Jaeger, Tempo, Honeycomb...). Chosen by itself when OTEL_EXPORTER_OTLP_ENDPOINT or
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set and FULFILLMENT_TRACES is not.
- `file:PATH`: one JSON object per span per line, appended; the dev stack (`make run`) writes
  `.data/traces.jsonl` so a developer can read a trace with `jq` and no collector.
- `console`: the same lines on stderr.
- `off` (the default elsewhere): no provider, no interceptor, nothing paid per order.

Why here: the API and the worker both set it up, and `models/` is the folder both may import
(as models/logs.py, whose lines take their trace id from the current span).
"""

from __future__ import annotations

import json
import os
import sys
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

from models.settings import TRACES_CONSOLE, TRACES_FILE, TRACES_OFF, TRACES_OTLP

OTLP_VARIABLES = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
# A span file that grows past this is moved aside to PATH.1 (one generation kept): a dev
# stack left running for weeks does not fill the disk.
ROTATE_BYTES = 64 * 1024 * 1024


def destination_in_use(configured: str, environ: dict[str, str] | None = None) -> str:
    """What FULFILLMENT_TRACES means once its default is resolved."""
    environ = dict(os.environ) if environ is None else environ
    if configured:
        return configured
    return TRACES_OTLP if any(environ.get(name) for name in OTLP_VARIABLES) else TRACES_OFF


def span_line(span: ReadableSpan) -> dict[str, object]:
    """A span as one flat JSON object: what a test or `jq` needs to rebuild the tree."""
    context = span.get_span_context()
    assert context is not None  # an ended SDK span always has one
    parent = span.parent
    return {
        "service": span.resource.attributes.get("service.name"),
        "name": span.name,
        "trace_id": format(context.trace_id, "032x"),
        "span_id": format(context.span_id, "016x"),
        "parent_id": format(parent.span_id, "016x") if parent else None,
        "kind": span.kind.name.lower(),
        "start_ns": span.start_time,
        "end_ns": span.end_time,
        "status": span.status.status_code.name.lower(),
        "attributes": dict(span.attributes or {}),
    }


class JsonLinesExporter(SpanExporter):
    """Appends one line per span. Each batch is one `write` on a file opened O_APPEND, so the
    API and the worker can share a file without tearing each other's lines."""

    def __init__(self, path: Path | None) -> None:
        self._path = path
        self._lock = threading.Lock()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        text = "".join(json.dumps(span_line(s), default=str) + "\n" for s in spans)
        with self._lock:
            if self._path is None:
                stream: IO[str] = sys.stderr
                stream.write(text)
                stream.flush()
                return SpanExportResult.SUCCESS
            self._rotate_if_large()
            descriptor = os.open(self._path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(descriptor, text.encode())
            finally:
                os.close(descriptor)
        return SpanExportResult.SUCCESS

    def _rotate_if_large(self) -> None:
        assert self._path is not None
        try:
            if self._path.stat().st_size > ROTATE_BYTES:
                self._path.replace(self._path.with_name(self._path.name + ".1"))
        except FileNotFoundError:
            pass

    def shutdown(self) -> None:
        return None


def _exporter(destination: str) -> SpanExporter:
    if destination == TRACES_OTLP:
        # Imported only when chosen: it pulls protobuf in.
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter()
    if destination == TRACES_CONSOLE:
        return JsonLinesExporter(None)
    path = Path(destination.removeprefix(TRACES_FILE))
    path.parent.mkdir(parents=True, exist_ok=True)
    return JsonLinesExporter(path)


@dataclass
class Tracing:
    provider: TracerProvider

    def shutdown(self) -> None:
        """Sends what is still queued; called before the process exits."""
        self.provider.shutdown()


def start_tracing(destination: str, service: str) -> Tracing | None:
    """The process's tracer provider, and the instrumentation of the HTTP clients the
    providers use; None (nothing set up, nothing paid) when traces are off."""
    destination = destination_in_use(destination)
    if destination == TRACES_OFF:
        return None
    provider = TracerProvider(resource=Resource.create({"service.name": f"fulfillment-{service}"}))
    # Batched, off the caller's thread: a span ends in a workflow task or a request without
    # waiting for a file or a collector. A short delay in dev, so a trace is readable at once.
    delay = 5000 if destination == TRACES_OTLP else 500
    provider.add_span_processor(
        BatchSpanProcessor(_exporter(destination), schedule_delay_millis=delay)
    )
    trace.set_tracer_provider(provider)
    _instrument_http_clients()
    return Tracing(provider)


def _instrument_http_clients() -> None:
    # Stripe's client and the vendor webhooks use httpx; Shippo's SDK uses requests.
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
    from opentelemetry.instrumentation.requests import RequestsInstrumentor

    if not HTTPXClientInstrumentor().is_instrumented_by_opentelemetry:
        HTTPXClientInstrumentor().instrument()
    if not RequestsInstrumentor().is_instrumented_by_opentelemetry:
        RequestsInstrumentor().instrument()


def current_trace_id() -> str | None:
    """The trace id of the span current here, if one is being recorded."""
    context = trace.get_current_span().get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else None


# The business ids a span is searchable by in a trace store (Jaeger, Tempo...).
SPAN_IDS = ("order_id", "vendor_order_id")


def name_current_span(fields: Mapping[str, str]) -> None:
    span = trace.get_current_span()
    if span.is_recording():
        for name in SPAN_IDS:
            if fields.get(name):
                span.set_attribute(f"fulfillment.{name}", fields[name])
