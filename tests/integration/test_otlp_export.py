"""With an OTLP endpoint configured, a process sends its spans there (models/tracing.py): the
protobuf a collector (Jaeger, Tempo, the OpenTelemetry Collector) receives on /v1/traces."""

from __future__ import annotations

import os
import subprocess
import sys
from http.server import BaseHTTPRequestHandler
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from tests.loopback_receiver import LoopbackReceiver

# A separate interpreter: a tracer provider is set once per process, and the test process's
# own HTTP clients must not be instrumented.
SCRIPT = """
from opentelemetry import trace
from models.tracing import start_tracing
tracing = start_tracing("", "worker")  # no FULFILLMENT_TRACES: the endpoint alone chooses
with trace.get_tracer("t").start_as_current_span("RunActivity:payments.charge"):
    pass
tracing.shutdown()
"""


class Collector(LoopbackReceiver):
    def __init__(self) -> None:
        self.requests: list[tuple[str, str, bytes]] = []
        received = self.requests

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                received.append((self.path, self.headers["Content-Type"], body))
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                pass

        self._serve(Handler)


def test_spans_go_to_the_configured_otlp_endpoint_with_the_service_named() -> None:
    with Collector() as collector:
        env = {
            **os.environ,
            "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{collector.port}",
        }
        env.pop("FULFILLMENT_TRACES", None)
        done = subprocess.run(
            [sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stderr
    assert len(collector.requests) == 1
    path, content_type, body = collector.requests[0]
    assert (path, content_type) == ("/v1/traces", "application/x-protobuf")
    request = ExportTraceServiceRequest.FromString(body)
    (resource,) = request.resource_spans
    service = {a.key: a.value.string_value for a in resource.resource.attributes}["service.name"]
    assert service == "fulfillment-worker"
    names = [span.name for scope in resource.scope_spans for span in scope.spans]
    assert names == ["RunActivity:payments.charge"]
