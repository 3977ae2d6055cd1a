"""Where traces go, and what a span line holds (models/tracing.py, api/tracing.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from pydantic import ValidationError

from api.tracing import redact
from models import tracing
from models.settings import Settings
from models.tracing import JsonLinesExporter, destination_in_use


def test_traces_are_off_unless_asked_for_or_an_otlp_endpoint_is_configured() -> None:
    assert destination_in_use("", {}) == "off"
    assert destination_in_use("", {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}) == "otlp"
    assert destination_in_use("", {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c"}) == "otlp"
    # Said outright, the setting wins over the endpoint.
    assert destination_in_use("off", {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c"}) == "off"
    assert destination_in_use("file:/tmp/t.jsonl", {}) == "file:/tmp/t.jsonl"


@pytest.mark.parametrize("value", ["jaeger", "file:", "FILE:/x", "on"])
def test_a_traces_setting_that_names_no_destination_is_refused_at_start(value: str) -> None:
    with pytest.raises(ValidationError, match="off, console, otlp or file:PATH"):
        Settings(FULFILLMENT_TRACES=value)


def provider_writing_to(path: Path) -> TracerProvider:
    provider = TracerProvider(resource=Resource.create({"service.name": "fulfillment-test"}))
    provider.add_span_processor(SimpleSpanProcessor(JsonLinesExporter(path)))
    return provider


def test_a_span_is_one_json_line_naming_its_parent_and_service(tmp_path: Path) -> None:
    path = tmp_path / "traces.jsonl"
    tracer = provider_writing_to(path).get_tracer("test")
    with tracer.start_as_current_span("outer") as outer:
        with tracer.start_as_current_span("inner", attributes={"order": "ord_1"}):
            pass
    inner, outer_line = (json.loads(line) for line in path.read_text().splitlines())
    assert inner["name"] == "inner" and outer_line["name"] == "outer"
    assert (
        inner["parent_id"]
        == outer_line["span_id"]
        == format(outer.get_span_context().span_id, "016x")
    )
    assert outer_line["parent_id"] is None
    assert inner["trace_id"] == outer_line["trace_id"]
    assert inner["service"] == "fulfillment-test"
    assert inner["attributes"] == {"order": "ord_1"}
    assert inner["end_ns"] >= inner["start_ns"]


def test_a_span_file_past_its_size_is_moved_aside_not_grown_forever(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tracing, "ROTATE_BYTES", 300)
    path = tmp_path / "traces.jsonl"
    tracer = provider_writing_to(path).get_tracer("test")
    for n in range(10):
        with tracer.start_as_current_span(f"span {n}"):
            pass
    kept = path.with_name("traces.jsonl.1")
    assert kept.exists() and path.stat().st_size <= 300 + len(kept.read_text().splitlines()[0]) + 1
    names = [json.loads(line)["name"] for f in (kept, path) for line in f.read_text().splitlines()]
    assert names[-1] == "span 9"  # the newest span is in the live file, never lost


def test_the_shippo_webhook_token_is_redacted_from_a_request_url() -> None:
    url = "http://api/v1/webhooks/shippo?token=s3cr3t&x=1"
    assert redact(url) == "http://api/v1/webhooks/shippo?token=REDACTED&x=1"
    assert redact("/v1/webhooks/shippo?TOKEN=s3cr3t") == "/v1/webhooks/shippo?TOKEN=REDACTED"
    assert redact("/v1/orders?status=open") == "/v1/orders?status=open"
