"""Logs you can search (models/logs.py): outside dev the API and the worker write one JSON
object per line, and every line of a request names its trace and, once known, its order or
vendor order. Read from the log files of the stack's real API and worker processes."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from pathlib import Path
from typing import Any

import httpx

from devstack.stack import DevStack
from domain.ids import order_workflow_id
from temporal.client import connect
from tests.e2e.client import PLATFORM, onboard, order_body, stock_product

# What `fulfillment` says on stderr before the process configures its logs (cli.py, `servers`;
# dev and test environments only): at the top, and again wherever a test restarted the process.
BANNERS = ("using ", "no dev stack found")


def json_lines(path: Path) -> list[dict[str, Any]]:
    """Every line of the file, each parsed as JSON: a line that is not fails the test.

    But the banner lines, and the last line while the process is still writing it (the
    file is read as it grows: a line without its newline yet is not a line)."""
    text = path.read_text()
    complete = text if text.endswith("\n") else text[: text.rfind("\n") + 1]
    first, *rest = complete.splitlines() or [""]
    assert first.startswith(BANNERS), first
    return [json.loads(line) for line in rest if line.strip() and not line.startswith(BANNERS)]


async def lines_where(
    stack: DevStack, process: str, within: float = 10, **expected: str
) -> list[dict[str, Any]]:
    """The process's lines carrying these field values; the request's own line is written
    just after its answer is sent, so wait for at least one."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        found = [
            line
            for line in json_lines(stack.data_dir / "logs" / f"{process}.log")
            if all(line.get(name) == value for name, value in expected.items())
        ]
        if found or asyncio.get_running_loop().time() > deadline:
            return found
        await asyncio.sleep(0.2)


async def test_every_log_line_of_a_checkout_names_its_order_and_trace(
    api: httpx.AsyncClient, stack: DevStack
) -> None:
    seller = await onboard(api, "Logged")
    sku = await stock_product(api, seller, price_cents=1500, on_hand=3)
    trace_id = uuid.uuid4().hex
    placed = await api.post(
        "/v1/orders",
        json=order_body([(sku, 1)]),
        headers={
            **PLATFORM,
            "Idempotency-Key": uuid.uuid4().hex,
            "traceparent": f"00-{trace_id}-{'b7' * 8}-01",
        },
    )
    assert placed.status_code == 201, placed.text
    order_id = placed.json()["id"]

    lines = await lines_where(stack, "api", trace_id=trace_id)

    assert [line["message"].split()[:3] for line in lines] == [["POST", "/v1/orders", "201"]]
    assert {(line["order_id"], line["level"], line["logger"]) for line in lines} == {
        (order_id, "info", "fulfillment.api")
    }


async def test_the_workers_lines_about_an_order_name_its_workflow_and_run(
    api: httpx.AsyncClient, stack: DevStack
) -> None:
    seller = await onboard(api, "LoggedWorker")
    sku = await stock_product(api, seller, price_cents=1200, on_hand=2)
    placed = await api.post(
        "/v1/orders",
        json=order_body([(sku, 1)]),
        headers={**PLATFORM, "Idempotency-Key": uuid.uuid4().hex},
    )
    assert placed.status_code == 201, placed.text
    order_id = placed.json()["id"]
    temporal = await connect(stack.env["TEMPORAL_ADDRESS"])
    run_id = (await temporal.get_workflow_handle(order_workflow_id(order_id)).describe()).run_id

    lines = await lines_where(stack, "worker", order_id=order_id)

    # The charge activity's own lines (the Stripe SDK's, through the activity interceptor).
    charge = [line for line in lines if line["workflow_id"] == order_workflow_id(order_id)]
    assert {line["logger"] for line in charge} >= {"stripe"}
    assert {line["run_id"] for line in charge} == {run_id}
    assert all(line["workflow_id"].startswith(f"order-{order_id}") for line in lines)
    # With traces on (the stack writes them), the activity's lines carry the checkout's trace:
    # the API's line of the request and the worker's lines of its charge are found together.
    (request,) = await lines_where(stack, "api", order_id=order_id)
    assert {line.get("trace_id") for line in charge} == {request["trace_id"]}


async def test_a_request_about_a_vendor_order_names_it_under_a_trace_of_its_own(
    api: httpx.AsyncClient, stack: DevStack
) -> None:
    seller = await onboard(api, "LoggedVendor")
    sku = await stock_product(api, seller, price_cents=900, on_hand=2)
    placed = await api.post(
        "/v1/orders",
        json=order_body([(sku, 1)]),
        headers={**PLATFORM, "Idempotency-Key": uuid.uuid4().hex},
    )
    assert placed.status_code == 201, placed.text
    vendor_order_id = placed.json()["vendor_orders"][0]["id"]

    seen = await api.get(f"/v1/vendor/orders/{vendor_order_id}", headers=seller.auth)
    assert seen.status_code == 200, seen.text

    [line] = await lines_where(stack, "api", vendor_order_id=vendor_order_id)
    # No traceparent: a trace id made for the request, of the W3C shape, its own.
    assert re.fullmatch("[0-9a-f]{32}", line["trace_id"])
    checkout = await lines_where(stack, "api", order_id=placed.json()["id"])
    assert line["trace_id"] not in {other["trace_id"] for other in checkout}
    assert line["message"].startswith(f"GET /v1/vendor/orders/{vendor_order_id} 200 ")


async def test_the_worker_writes_json_lines_outside_dev(stack: DevStack) -> None:
    lines = json_lines(stack.data_dir / "logs" / "worker.log")

    assert any(line["message"].startswith("worker polling") for line in lines)
    assert all({"time", "level", "logger", "message"} <= line.keys() for line in lines)
