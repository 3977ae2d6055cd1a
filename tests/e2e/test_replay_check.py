"""Before a deploy, `fulfillment replay` replays the open workflows' histories on the code
about to go out (temporal/replay_check.py): today's code replays them all, and a change that
would strand open orders is named, workflow by workflow, before any worker runs it."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from temporalio import workflow

from devstack.stack import DevStack
from temporal.client import connect
from temporal.replay_check import replay_workflows
from tests.e2e.client import onboard, order_body, place, stock_product
from tests.e2e.test_operator_cli import command
from workflows.registry import WORKFLOWS


@workflow.defn(name="VendorOrderWorkflow", sandboxed=False)
class ReorderedVendorOrder:
    """A vendor order whose next version does its steps in another order: first a step it
    did not do before."""

    @workflow.run
    async def run(self, _: Any) -> None:
        await workflow.execute_activity(
            "inventory.audit", start_to_close_timeout=timedelta(seconds=5)
        )


async def an_open_order(api: httpx.AsyncClient) -> dict[str, Any]:
    seller = await onboard(api, "Replayed Co", email="replayed@example.com")
    sku = await stock_product(api, seller, price_cents=900, on_hand=2)
    answer = await place(api, order_body([(sku, 1)]))
    assert answer.status_code == 201, answer.text
    order: dict[str, Any] = answer.json()
    return order


async def test_todays_code_replays_every_open_workflow_before_a_deploy(
    api: httpx.AsyncClient, stack: DevStack, tmp_path: Path
) -> None:
    await an_open_order(api)
    done = command(stack, tmp_path, "replay")
    assert done.returncode == 0, done.stdout + done.stderr
    said = done.stdout.strip().splitlines()[-1]
    replayed = int(said.split()[1])
    # At least the order and its vendor order just placed (the session's stack has more).
    assert replayed >= 2 and said.endswith("on this code: 0 would fail"), said


async def test_a_change_that_would_strand_open_vendor_orders_is_named_before_the_deploy(
    api: httpx.AsyncClient, stack: DevStack
) -> None:
    order = await an_open_order(api)
    vendor_workflow = order["vendor_orders"][0]["workflow_id"]
    client = await connect(stack.env["TEMPORAL_ADDRESS"])
    others = [w for w in WORKFLOWS if w.__name__ != "VendorOrderWorkflow"]
    seen: list[tuple[int, int]] = []
    query = f"WorkflowId = '{vendor_workflow}' OR WorkflowId = '{order['workflow_id']}'"

    report = await replay_workflows(
        client,
        [*others, ReorderedVendorOrder],
        query,
        progress=lambda done, total: seen.append((done, total)),
    )

    assert report.replayed == 2
    (failure,) = report.failures
    assert (failure.workflow_id, failure.workflow_type) == (vendor_workflow, "VendorOrderWorkflow")
    assert "nondetermin" in failure.error.lower() or "inventory.audit" in failure.error
    assert seen == [(1, 2), (2, 2)]
