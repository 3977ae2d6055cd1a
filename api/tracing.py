"""The API's part of a trace (models/tracing.py): a server span per request, around every
middleware, continuing the caller's W3C `traceparent` when it sends one."""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.trace import Span

# Shippo's webhook carries its secret in the query string (api/routers/webhooks/shippo.py):
# a span keeps the URL, and a trace store is read by more people than the secret's owners.
_SECRET_QUERY = re.compile(r"(?i)(\btoken=)[^&#\s]*")
_URL_ATTRIBUTES = ("http.target", "http.url", "url.query", "url.full")


def redact(value: str) -> str:
    return _SECRET_QUERY.sub(r"\1REDACTED", value)


def _redact_secrets(span: Span, scope: dict[str, Any]) -> None:
    if not span.is_recording() or b"token=" not in scope.get("query_string", b"").lower():
        return
    attributes = getattr(span, "attributes", None) or {}
    for name in _URL_ATTRIBUTES:
        value = attributes.get(name)
        if isinstance(value, str):
            span.set_attribute(name, redact(value))


def trace_requests(app: FastAPI) -> None:
    FastAPIInstrumentor.instrument_app(
        app,
        server_request_hook=_redact_secrets,
        # One span per request, not one per ASGI message besides.
        exclude_spans=["receive", "send"],
        # Probes and scrapes every few seconds would drown the traces people look for.
        excluded_urls="healthz,readyz,metrics",
    )
