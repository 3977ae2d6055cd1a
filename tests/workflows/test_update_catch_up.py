"""The API reads a vendor order's row, then asks its workflow for a change. The workflow writes
a step to the database in an activity and takes it into its own state when the activity
returns, so for a moment the row shows a state the workflow does not know yet (a buyer opening
a return the moment the order shows delivered was refused 409 under load). A refusal for the
state, when the row allows the change, is asked again briefly (api/vendor_order_updates.py)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

import pytest
from temporalio import workflow
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from api.errors import Problem
from api.vendor_order_updates import update_vendor_order
from domain.errors import ErrorCode
from models.vendor_order import VendorOrder


@workflow.defn(name="CatchingUp")
class CatchingUp:
    """Takes the delivery into its state a moment after it starts, as after an activity."""

    def __init__(self) -> None:
        self._delivered = False

    @workflow.run
    async def run(self) -> None:
        await workflow.sleep(timedelta(milliseconds=400))
        self._delivered = True
        await workflow.wait_condition(lambda: False)

    @workflow.update(name="open_return")
    async def open_return(self) -> str:
        return "opened"

    @open_return.validator
    def _can_open(self) -> None:
        if not self._delivered:
            raise ApplicationError(
                "a return can only be opened after delivery", type=ErrorCode.INVALID_STATE
            )


@asynccontextmanager
async def catching_up(env: WorkflowEnvironment, task_queue: str) -> AsyncIterator[VendorOrder]:
    """A vendor order whose workflow is CatchingUp, in real time, served by a worker."""
    with env.with_time_skipping_disabled():
        async with Worker(
            env.client,
            task_queue=task_queue,
            workflows=[CatchingUp],
            # A stand-in defined in a test module, which the sandbox cannot re-import.
            workflow_runner=UnsandboxedWorkflowRunner(),
        ):
            workflow_id = f"catching-up-{uuid.uuid4().hex[:8]}"
            await env.client.start_workflow(CatchingUp.run, id=workflow_id, task_queue=task_queue)
            yield VendorOrder(
                id="vo_1", order_id="ord_1", vendor_id="ven_1", workflow_id=workflow_id
            )


async def test_a_change_the_row_allows_waits_for_the_workflow_to_catch_up(
    env: WorkflowEnvironment, task_queue: str
) -> None:
    async with catching_up(env, task_queue) as vendor_order:
        answer = await update_vendor_order(
            env.client, vendor_order, "open_return", None, str, row_allows_it=True
        )
    assert answer == "opened"


async def test_a_change_the_row_does_not_allow_is_refused_at_once(
    env: WorkflowEnvironment, task_queue: str
) -> None:
    async with catching_up(env, task_queue) as vendor_order:
        loop = asyncio.get_running_loop()
        began = loop.time()
        with pytest.raises(Problem) as refused:
            await update_vendor_order(env.client, vendor_order, "open_return", None, str)
    assert refused.value.code == ErrorCode.INVALID_STATE
    assert loop.time() - began < 0.4  # not waited for: the row did not allow it
