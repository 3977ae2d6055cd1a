"""Record vendor-order runs that continued as new: `python -m tests.replay.record_continued
_suffix` (the suffix names the version, as with tests/replay/record.py).

A continued run records its patch marker where it first asks about a patch, not at its start
(the first run's marker is at the start). Retiring a patch must keep that marker where such
runs put it, so these runs are recorded and replayed beside the first runs.

Two ways a vendor order continues as new: a payout refused for a long time (the run resumes
in the payout phase) and a vendor that never ships while the stock's hold is renewed (the run
resumes awaiting shipment and ends in the SLA's cancellation).
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from temporalio.client import Client, WorkflowHandle
from temporalio.worker import Worker

from models.messages.vendor_order import CancelRequest
from tests.workflows.conftest import time_skipping_environment
from tests.workflows.fakes import world
from tests.workflows.test_order_saga import order_input, with_timing
from tests.workflows.test_vendor_money import payout_refused_then_retried, ship_and_deliver
from tests.workflows.timed_orders import DAY, timed_order, vendor_a
from workflows.registry import WORKFLOWS

HERE = Path(__file__).parent / "histories"


async def _runs(client: Client, handle: WorkflowHandle) -> list[str]:
    """Every run's history as JSON, the first run first."""
    runs: list[str] = []
    history = await handle.fetch_history()  # the latest run
    while True:
        runs.insert(0, history.to_json())
        started = history.events[0].workflow_execution_started_event_attributes
        if not started.continued_execution_run_id:
            return runs
        earlier = client.get_workflow_handle(handle.id, run_id=started.continued_execution_run_id)
        history = await earlier.fetch_history()


async def _until_continued(handle: WorkflowHandle) -> None:
    for _ in range(600):
        history = await handle.fetch_history()
        started = history.events[0].workflow_execution_started_event_attributes
        if started.continued_execution_run_id:
            return
        await asyncio.sleep(0.1)
    raise AssertionError("the run never continued as new")


async def main(suffix: str) -> None:
    env = await time_skipping_environment()
    try:
        fake = world()
        fake.catalog["BRAKE-01"].ship_sla_seconds = 2 * DAY
        async with Worker(
            env.client, task_queue="record", workflows=WORKFLOWS, activities=fake.activities()
        ):
            # A payout refused until an operator asks again, in a short history.
            order = with_timing(order_input(), history_limit=60, payout_retry_seconds=60)
            _, child = await vendor_a(env, "record", fake, order)
            await payout_refused_then_retried(fake, child)
            paying = await _runs(env.client, child)
            assert len(paying) >= 2, "the payout never continued as new"
            (HERE / f"vendor_order_payout_continued{suffix}.json").write_text(paying[1])
            # A vendor that never ships: renewals, the SLA's flag, then its cancellation.
            order = timed_order(hold_seconds=12 * 3600.0, history_limit=40)
            _, child = await vendor_a(env, "record", fake, order)
            assert await child.result() == "cancelled"
            holding = await _runs(env.client, child)
            assert len(holding) >= 2, "the hold never continued as new"
            (HERE / f"vendor_order_hold_continued{suffix}.json").write_text(holding[1])
            (HERE / f"vendor_order_hold_cancelled{suffix}.json").write_text(holding[-1])
            # Continued while waiting for the vendor, then shipped; and then cancelled.
            fake.catalog["BRAKE-01"].ship_sla_seconds = None
            for ending in ("shipped", "cancelled"):
                fake.stock.update({"BRAKE-01": 10, "TYRE-700": 5})  # each order takes some
                order = timed_order(hold_seconds=2.0, history_limit=40)
                with env.with_time_skipping_disabled():
                    _, child = await vendor_a(env, "record", fake, order, skipping=False)
                    await _until_continued(child)
                    if ending == "shipped":
                        await ship_and_deliver(child)
                    else:
                        await child.execute_update("cancel", CancelRequest(reason="x"))
                # The run that shipped or cancelled (a history still open replays too: the
                # other vendor's renewals every second would make skipping to the end slow).
                latest = (await child.fetch_history()).to_json()
                (HERE / f"vendor_order_{ending}_after_continuing{suffix}.json").write_text(latest)
    finally:
        await env.shutdown()


if __name__ == "__main__":
    # The suffix names the version recorded: `... record_continued _issue11`.
    asyncio.run(main(sys.argv[1]))
