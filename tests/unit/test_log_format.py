"""Log lines (models/logs.py): JSON outside dev, readable text in the dev stack, both naming
the order; the trace id a request's lines share (api/log_context.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from api.log_context import trace_id_of
from domain.ids import ids_of_workflow_id, order_workflow_id, vendor_order_id
from domain.ids import vendor_order_workflow_id as vendor_workflow_id
from models.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
SECRETS = {
    "FULFILLMENT_PLATFORM_KEY": "p" * 40,
    "FULFILLMENT_OPS_KEY": "o" * 40,
    "STRIPE_WEBHOOK_SECRET": "whsec_real",
    "SHIPPO_WEBHOOK_TOKEN": "real-token",
}

# A process configured from its settings, as worker.py and cli.py do, logging one line about
# an order inside a request's context.
ONE_LINE = """
import logging
from models.logs import bound, configure_logging
from models.settings import get_settings
settings = get_settings()
configure_logging(settings.log_format_in_use, settings.log_level)
with bound(order_id="ord_0123", trace_id="4bf92f3577b34da6a3ce929d0e0e4736"):
    logging.getLogger("fulfillment.api").info("order placed")
logging.getLogger("fulfillment.api").debug("not at INFO")
"""


def one_line(**environment: str) -> str:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("FULFILLMENT_")}
    done = subprocess.run(
        [sys.executable, "-c", ONE_LINE],
        cwd=ROOT,
        env={**clean, **environment},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stderr


def test_the_dev_stack_logs_readable_lines_that_still_name_the_order() -> None:
    output = one_line(FULFILLMENT_ENV="dev")

    [line] = output.splitlines()
    with pytest.raises(json.JSONDecodeError):
        json.loads(line)
    assert line.endswith(
        "INFO    fulfillment.api order placed  "
        "[order_id=ord_0123 trace_id=4bf92f3577b34da6a3ce929d0e0e4736]"
    )


def test_outside_dev_every_line_is_one_json_object_with_the_ids_at_the_top() -> None:
    output = one_line(FULFILLMENT_ENV="production", **SECRETS)

    [line] = [json.loads(text) for text in output.splitlines()]
    assert {k: v for k, v in line.items() if k != "time"} == {
        "level": "info",
        "logger": "fulfillment.api",
        "message": "order placed",
        "order_id": "ord_0123",
        "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
    }


def test_the_format_and_level_are_settings() -> None:
    output = one_line(
        FULFILLMENT_ENV="dev", FULFILLMENT_LOG_FORMAT="json", FULFILLMENT_LOG_LEVEL="debug"
    )

    lines = [json.loads(text) for text in output.splitlines()]
    assert [line["message"] for line in lines] == ["order placed", "not at INFO"]
    assert Settings(FULFILLMENT_ENV="production", **SECRETS).log_format_in_use == "json"
    assert Settings(FULFILLMENT_ENV="test").log_format_in_use == "json"
    with pytest.raises(ValidationError):
        Settings(FULFILLMENT_LOG_FORMAT="xml")
    with pytest.raises(ValidationError):
        Settings(FULFILLMENT_LOG_LEVEL="loud")


def test_a_traceparent_gives_its_trace_id_and_a_malformed_one_gives_none() -> None:
    trace = "4bf92f3577b34da6a3ce929d0e0e4736"
    assert trace_id_of(f"00-{trace}-00f067aa0ba902b7-01") == trace
    assert trace_id_of(f"00-{trace.upper()}-00F067AA0BA902B7-00") == trace
    for refused in (
        None,
        "",
        f"ff-{trace}-00f067aa0ba902b7-01",
        f"00-{'0' * 32}-00f067aa0ba902b7-01",
        f"00-{trace}-{'0' * 16}-01",
        f"00-{trace[:-1]}-00f067aa0ba902b7-01",
        "not a traceparent",
    ):
        assert trace_id_of(refused) is None, refused


def test_a_workflow_id_names_its_order_and_vendor_order() -> None:
    assert ids_of_workflow_id(order_workflow_id("ord_1")) == {"order_id": "ord_1"}
    assert ids_of_workflow_id(vendor_workflow_id("ord_1", "ven_2")) == {
        "order_id": "ord_1",
        "vendor_order_id": vendor_order_id("ord_1", "ven_2"),
    }
    assert ids_of_workflow_id("notify-vo_1.created") == {}
    assert ids_of_workflow_id("order-") == {}


def test_a_line_break_json_leaves_alone_never_cuts_a_log_line_in_two() -> None:
    """Found by schemathesis: a request path with U+0085 in it made the API's line two lines
    for every reader that ends lines there (Python's splitlines, JavaScript)."""
    import logging

    from models.logs import JsonFormatter

    message = "GET /v1/webhook-endpoints/a\x85b\u2028c\u2029d\x0be\x1cf é"
    record = logging.LogRecord("fulfillment.api", logging.INFO, "x", 1, message, None, None)
    line = JsonFormatter().format(record)
    assert len(line.splitlines()) == 1
    assert json.loads(line)["message"] == message
    assert "é" in line  # readable text stays readable
