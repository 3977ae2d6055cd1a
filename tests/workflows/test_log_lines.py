"""Logs you can search, in the worker (models/logs.py): what an activity logs and what a
workflow logs both name the order, the vendor order, the workflow and its run. The worker is
built by `make_worker` (its activity interceptor, temporal/log_context.py); the sagas are real,
the world they talk to is the in-memory one of tests/workflows/fakes.py. In skipped time."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from temporalio import activity
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from domain.ids import vendor_order_workflow_id
from models.logs import JsonFormatter
from models.messages.shipping import ShipRequest, TrackRequest
from temporal.names import Activity
from temporal.worker import make_worker
from tests.workflows.fakes import world
from tests.workflows.test_vendor_money import until
from tests.workflows.timed_orders import DAY, timed_order, vendor_a
from workflows.registry import WORKFLOWS

CARRIER_LOG = "tests.carrier"


@activity.defn(name=Activity.TRACK_PARCEL)
async def carrier_refuses(request: TrackRequest) -> str:
    # A plain logger, no Temporal extras: the interceptor alone names the ids.
    logging.getLogger(CARRIER_LOG).warning("carrier refused %s", request.tracking_number)
    raise ApplicationError("unknown tracking number", non_retryable=True)


class Lines:
    """The JSON lines of the carrier's logger and of `workflow.logger`, as the worker's
    handler writes them."""

    def __init__(self) -> None:
        self.stream = io.StringIO()

    def read(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.stream.getvalue().splitlines()]


@pytest.fixture
def lines() -> Iterator[Lines]:
    captured = Lines()
    handler = logging.StreamHandler(captured.stream)
    handler.setFormatter(JsonFormatter())
    loggers = [logging.getLogger(CARRIER_LOG), logging.getLogger("temporalio.workflow")]
    for logger in loggers:
        logger.addHandler(handler)
    try:
        yield captured
    finally:
        for logger in loggers:
            logger.removeHandler(handler)


async def test_what_an_activity_and_its_workflow_log_names_the_order_vendor_order_and_run(
    env: WorkflowEnvironment, task_queue: str, lines: Lines
) -> None:
    fake = world()
    fake.catalog["BRAKE-01"].ship_sla_seconds = DAY
    activities: list[Any] = [
        a for a in fake.activities() if getattr(a, "__name__", "") != "track"
    ] + [carrier_refuses]
    order = timed_order()
    async with make_worker(env.client, task_queue, WORKFLOWS, activities):
        vendor_order_id, child = await vendor_a(env, task_queue, fake, order)
        await child.execute_update("ship", ShipRequest(carrier="ups", tracking_number="1Z"))
        # The workflow gives up on tracking after the carrier's refusal.
        await until(lambda: any("tracking not registered" in x["message"] for x in lines.read()))
        await child.execute_update("deliver")
        assert await child.result() == "completed"
        run_id = (await child.describe()).run_id

    names = {"order_id", "vendor_order_id", "workflow_id", "run_id"}
    expected = {
        "order_id": order.order_id,
        "vendor_order_id": vendor_order_id,
        "workflow_id": vendor_order_workflow_id(order.order_id, "ven_a"),
        "run_id": run_id,
    }
    written = lines.read()
    refused = [line for line in written if line["logger"] == CARRIER_LOG]
    not_registered = [
        line for line in written if line["message"].startswith("tracking not registered")
    ]
    assert [line["message"] for line in refused] == ["carrier refused 1Z"]
    assert len(not_registered) == 1
    for line in (*refused, *not_registered):
        assert {name: line[name] for name in names} == expected
