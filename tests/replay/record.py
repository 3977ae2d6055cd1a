"""Record workflow histories for the replay tests: `python -m tests.replay.record`.

Run it when a workflow change is meant to be incompatible (after gating it with
`workflow.patched` where running workflows must survive) and commit the new files beside the
old ones: old histories must keep replaying.
"""

from __future__ import annotations

import asyncio
import sys
import uuid
from contextlib import nullcontext
from datetime import timedelta
from pathlib import Path

from temporalio.client import WithStartWorkflowOperation, WorkflowUpdateFailedError
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.worker import Worker

from domain.ids import vendor_order_workflow_id
from models.messages.checkout import CheckoutRequest, LineRequest, OrderInput
from models.messages.returns import ReturnRequest, ReturnUnits
from models.messages.shipping import ShipRequest
from models.messages.timing import TimingPolicy
from models.messages.vendor_order import CancelRequest
from tests.workflows.conftest import time_skipping_environment
from tests.workflows.fakes import world
from workflows.order import OrderWorkflow
from workflows.registry import WORKFLOWS

HERE = Path(__file__).parent / "histories"


def order(payment_method: str) -> OrderInput:
    return OrderInput(
        order_id=f"ord_{uuid.uuid4().hex[:12]}",
        customer_id="cus_42",
        currency="usd",
        lines=[LineRequest(sku="BRAKE-01", quantity=3), LineRequest(sku="TYRE-700", quantity=1)],
        shipping_address={"name": "Ada", "country": "US"},
        payment_method=payment_method,
        idempotency_key="key-1",
        request_fingerprint="fp-1",
        timing=TimingPolicy(
            return_window_seconds=timedelta(days=14).total_seconds(),
            # Service-level timers (the vendors ship in time).
            auto_cancel_seconds=timedelta(days=2).total_seconds(),
            delivery_overdue_seconds=timedelta(days=10).total_seconds(),
            return_expires_seconds=timedelta(days=14).total_seconds(),
        ),
    )


SCENARIOS = (
    ("completed", "pm_card_visa"),
    ("declined", "pm_card_visa_chargeDeclined"),
    # One vendor order cancelled before shipping, the other shipped and paid.
    ("cancelled", "pm_card_visa"),
    # Both delivered; a return opened on the first is never received: it expires, and the
    # payout it held goes ahead.
    ("return_expired", "pm_card_visa"),
)


async def main(suffix: str = "", only: frozenset[str] | None = None) -> None:
    env = await time_skipping_environment()
    try:
        fake = world()
        # Postage estimated by the routing: the checkout's shipping path.
        fake.shipping = {"ven_a": 600, "ven_b": 700}
        fake.catalog["BRAKE-01"].ship_sla_seconds = timedelta(days=3).total_seconds()
        async with Worker(
            env.client, task_queue="record", workflows=WORKFLOWS, activities=fake.activities()
        ):
            for name, method in SCENARIOS:
                if only is not None and name not in only:
                    continue
                # A return must be opened inside its window: time stands still until then.
                still = (
                    env.with_time_skipping_disabled() if name == "return_expired" else nullcontext()
                )
                with still:
                    placed = order(method)
                    start = WithStartWorkflowOperation(
                        OrderWorkflow.run,
                        placed,
                        id=f"order-{placed.order_id}",
                        task_queue="record",
                        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                    )
                    try:
                        await env.client.execute_update_with_start_workflow(
                            OrderWorkflow.checkout,
                            CheckoutRequest(request_fingerprint="fp-1"),
                            start_workflow_operation=start,
                        )
                    except WorkflowUpdateFailedError:
                        pass
                    handle = await start.workflow_handle()
                    children = []
                    if name in ("completed", "cancelled", "return_expired"):
                        for vendor in ("ven_a", "ven_b"):
                            child = env.client.get_workflow_handle(
                                vendor_order_workflow_id(placed.order_id, vendor)
                            )
                            if name == "cancelled" and vendor == "ven_a":
                                await child.execute_update("cancel", CancelRequest(reason="x"))
                            else:
                                await child.execute_update(
                                    "ship", ShipRequest(carrier="ups", tracking_number="1Z")
                                )
                                await child.execute_update("deliver")
                            if name == "return_expired" and vendor == "ven_a":
                                await child.execute_update(
                                    "open_return",
                                    ReturnRequest(
                                        return_id="ret_recorded",
                                        lines=[ReturnUnits(sku="BRAKE-01", quantity=1)],
                                        reason="too big",
                                    ),
                                )
                            children.append(child)
                if name == "return_expired":
                    # Started with time standing still: skip each one's clock to its end.
                    for workflow in (*children, handle):
                        await env.fast_forward(workflow, None)
                try:
                    await handle.result()
                except Exception:
                    pass
                (HERE / f"order_{name}{suffix}.json").write_text(
                    (await handle.fetch_history()).to_json()
                )
                for child in children[:1]:
                    await child.result()
                    history = await child.fetch_history()
                    (HERE / f"vendor_order_{name}{suffix}.json").write_text(history.to_json())
    finally:
        await env.shutdown()


if __name__ == "__main__":
    # A suffix keeps earlier histories: `python -m tests.replay.record _after_some_change`;
    # scenario names after it record only those (`... _suffix return_expired`).
    asyncio.run(
        main(
            sys.argv[1] if len(sys.argv) > 1 else "",
            frozenset(sys.argv[2:]) if len(sys.argv) > 2 else None,
        )
    )
