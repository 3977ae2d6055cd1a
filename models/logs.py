"""Logs you can search: one JSON object per line (or a readable line in dev), each naming the
order, vendor order, workflow, run and trace it belongs to where they are known.

Why the standard library's `logging` with a formatter of our own, not structlog: temporalio,
uvicorn, SQLAlchemy and httpx all log through `logging` already; one formatter on the root
handler puts their lines in the same shape as ours, with no second library to wire beside it.

Why here: the API (api/) and the worker (temporal/ for its interceptor, worker.py) both need
it, and `models/` is the one folder both may import (DESIGN.md's table). It holds settings
already, and this module imports nothing but the standard library and `domain`, as the row
asks. The ones who know the ids bind them: the API's request middleware
(api/log_context.py), the worker's activity interceptor (temporal/log_context.py); a
workflow's `workflow.logger` adds its workflow's info itself (`temporal_workflow`).
"""

from __future__ import annotations

import contextvars
import json
import logging
import logging.config
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from domain.ids import ids_of_workflow_id

# Top-level fields of every line, in this order, where they are known.
FIELDS = ("order_id", "vendor_order_id", "workflow_id", "run_id", "trace_id")

# A dict per request or activity, mutable in place: a route that learns the order's id after
# the middleware bound the context (checkout computes it from the Idempotency-Key) adds it
# with `annotate`, and the lines the middleware and uvicorn write afterwards carry it too.
_context: contextvars.ContextVar[dict[str, str] | None] = contextvars.ContextVar(
    "fulfillment_log_context", default=None
)


@contextmanager
def bound(**fields: str | None) -> Iterator[dict[str, str]]:
    """Every line logged inside carries these fields (the ones not None), on top of the
    fields already bound around it."""
    context = {**(_context.get() or {}), **{k: v for k, v in fields.items() if v is not None}}
    token = _context.set(context)
    try:
        yield context
    finally:
        _context.reset(token)


def annotate(**fields: str | None) -> None:
    """Add fields to the context bound around this code (nothing if none is bound)."""
    context = _context.get()
    if context is not None:
        context.update({k: v for k, v in fields.items() if v is not None})


def current_fields() -> dict[str, str]:
    return dict(_context.get() or {})


def record_fields(record: logging.LogRecord) -> dict[str, str]:
    """The ids a line names: the bound context, then what Temporal's loggers attach
    (`workflow.logger`'s `temporal_workflow`, `activity.logger`'s `temporal_activity`), then
    the order and vendor order a workflow id encodes (domain/ids.py)."""
    fields = current_fields()
    temporal: Mapping[str, Any] = (
        getattr(record, "temporal_workflow", None) or getattr(record, "temporal_activity", None)
    ) or {}
    for name, value in (
        ("workflow_id", temporal.get("workflow_id")),
        ("run_id", temporal.get("run_id") or temporal.get("workflow_run_id")),
    ):
        if value:
            fields.setdefault(name, str(value))
    if "workflow_id" in fields:
        for name, value in ids_of_workflow_id(fields["workflow_id"]).items():
            fields.setdefault(name, value)
    return {name: fields[name] for name in FIELDS if fields.get(name)}


# Line breaks besides \n and \r that JSON does not escape (it escapes every control below
# U+0020): NEL, and the Unicode line and paragraph separators.
_LINE_BREAKS = {ord(c): f"\\u{ord(c):04x}" for c in "\x85\u2028\u2029"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the ids, then any error."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            **record_fields(record),
        }
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        text = json.dumps(line, default=str, ensure_ascii=False)
        # JSON leaves these as they are, but many readers (Python's splitlines, JavaScript
        # viewers) end a line at them: a request path carrying one would cut its line in two
        # (found by schemathesis's paths). Escaped, the line is one line everywhere.
        return text.translate(_LINE_BREAKS)


class TextFormatter(logging.Formatter):
    """For a person watching `make run`: time, level, logger, message, then the ids as
    `name=value`, so a line still says which order it is about."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s %(message)s", "%H:%M:%S")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        ids = " ".join(f"{name}={value}" for name, value in record_fields(record).items())
        if not ids:
            return text
        first, newline, rest = text.partition("\n")  # ids before a traceback, not after
        return f"{first}  [{ids}]{newline}{rest}"


FORMATTERS = {"json": JsonFormatter, "text": TextFormatter}


def logging_config(log_format: str, level: str) -> dict[str, Any]:
    """A `logging.config.dictConfig` for the whole process: one handler on the root logger,
    and uvicorn's loggers sent to it (uvicorn applies it in every process it starts)."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"main": {"()": FORMATTERS[log_format]}},
        "handlers": {
            "main": {
                "class": "logging.StreamHandler",
                "formatter": "main",
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"handlers": ["main"], "level": level},
        # uvicorn's own handlers would print its lines in its own format: none, propagate.
        "loggers": {
            name: {"handlers": [], "propagate": True, "level": level}
            for name in ("uvicorn", "uvicorn.error", "uvicorn.access")
        },
    }


def configure_logging(log_format: str, level: str) -> None:
    logging.config.dictConfig(logging_config(log_format, level))
