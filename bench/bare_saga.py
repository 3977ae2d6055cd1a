"""Bare workflows of the checkout's shape, and a worker for them (bench/saga.py, issue 10).

The real checkout runs six steps (catalog, order record, reservation, totals, charge,
confirmation), starts one vendor-order child per vendor and answers the storefront's
update-with-start once that child has started. These workflows do exactly that with steps
that do nothing, so that what they cost is what Temporal and the SDK cost for that shape:

- `BareCheckoutWorkflow`: the six steps as activities, each a task round trip;
- `BareLocalCheckoutWorkflow`: the six steps as local activities, run inside the workflow's
  own task.

Both then start `BareVendorOrderWorkflow` (abandoned on parent close, as the real child is),
answer the `checkout` update, and wait for the child, which ends on the `finish` signal or
after `hold_seconds`. The benchmark signals it after each batch, outside its measurements, so
that no timer fires while a later batch is measured.

    .venv/bin/python -m bench.bare_saga --address 127.0.0.1:7233 --task-queue bench-bare
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import Awaitable, Callable
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.common import RetryPolicy
from temporalio.worker import Worker

with workflow.unsafe.imports_passed_through():
    from temporal.client import connect

# The real checkout's steps before it answers, in its order (workflows/order.py).
STEPS = (
    "bare.catalog",
    "bare.create",
    "bare.reserve",
    "bare.totals",
    "bare.charge",
    "bare.confirm",
)
CHECKOUT_WORKFLOW = "BareCheckoutWorkflow"
LOCAL_CHECKOUT_WORKFLOW = "BareLocalCheckoutWorkflow"
VENDOR_ORDER_WORKFLOW = "BareVendorOrderWorkflow"
CHECKOUT_UPDATE = "checkout"
FINISH_SIGNAL = "finish"
CONFIRMED = "confirmed"
# Long enough that no child's timer fires during a run: the benchmark ends them by signal.
DEFAULT_HOLD_SECONDS = 600.0
# The same timeouts and retries as the real steps (workflows/options.py); a no-op never
# needs them, but they are part of what the server records for each step.
STEP_TIMEOUT = timedelta(seconds=30)
LOCAL_STEP_TIMEOUT = timedelta(seconds=10)
RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=200),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=10),
)


def vendor_order_id(checkout_id: str) -> str:
    """The child's workflow id: one per checkout, as the real one is per order and vendor."""
    return f"{checkout_id}-vendor"


def _no_op(name: str) -> Callable[[], Awaitable[str]]:
    @activity.defn(name=name)
    async def step() -> str:
        return "ok"

    return step


NO_OPS = [_no_op(name) for name in STEPS]


@workflow.defn(name=VENDOR_ORDER_WORKFLOW)
class BareVendorOrderWorkflow:
    """The vendor order: upserts nothing, waits for `finish` or its timer, then ends."""

    def __init__(self) -> None:
        self._finish = False

    @workflow.run
    async def run(self, hold_seconds: float) -> str:
        try:
            await workflow.wait_condition(
                lambda: self._finish, timeout=timedelta(seconds=hold_seconds)
            )
        except TimeoutError:
            pass  # nobody told it to finish: it ends anyway
        return "done"

    @workflow.signal(name=FINISH_SIGNAL)
    def finish(self) -> None:
        self._finish = True


class _CheckoutShape:
    """What both bare checkouts share; each subclass says how a step runs."""

    def __init__(self) -> None:
        self._answered = False

    async def _check_out(self, step: Callable[[str], Awaitable[object]], hold: float) -> str:
        for name in STEPS:
            await step(name)
        child = await workflow.start_child_workflow(
            VENDOR_ORDER_WORKFLOW,
            hold,
            id=vendor_order_id(workflow.info().workflow_id),
            result_type=str,
            parent_close_policy=workflow.ParentClosePolicy.ABANDON,
        )
        # The real checkout answers once its children exist, then follows them.
        self._answered = True
        result: str = await child
        return result

    async def _answer(self) -> str:
        await workflow.wait_condition(lambda: self._answered)
        return CONFIRMED


async def _activity(name: str) -> object:
    return await workflow.execute_activity(
        name, start_to_close_timeout=STEP_TIMEOUT, retry_policy=RETRY, result_type=str
    )


async def _local_activity(name: str) -> object:
    return await workflow.execute_local_activity(
        name, start_to_close_timeout=LOCAL_STEP_TIMEOUT, retry_policy=RETRY, result_type=str
    )


@workflow.defn(name=CHECKOUT_WORKFLOW)
class BareCheckoutWorkflow(_CheckoutShape):
    """(b): six no-op activities, one child, answered by update-with-start."""

    @workflow.run
    async def run(self, hold_seconds: float) -> str:
        return await self._check_out(_activity, hold_seconds)

    @workflow.update(name=CHECKOUT_UPDATE)
    async def checkout(self) -> str:
        return await self._answer()


@workflow.defn(name=LOCAL_CHECKOUT_WORKFLOW)
class BareLocalCheckoutWorkflow(_CheckoutShape):
    """(c): the same with six no-op local activities."""

    @workflow.run
    async def run(self, hold_seconds: float) -> str:
        return await self._check_out(_local_activity, hold_seconds)

    @workflow.update(name=CHECKOUT_UPDATE)
    async def checkout(self) -> str:
        return await self._answer()


async def serve(address: str, namespace: str, task_queue: str) -> None:
    """Poll `task_queue` until SIGTERM or SIGINT, then shut down cleanly."""
    client = await connect(address, namespace)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    # The real worker's activity slots (temporal/worker.py); the rest are SDK defaults there too.
    async with Worker(
        client,
        task_queue=task_queue,
        workflows=[BareCheckoutWorkflow, BareLocalCheckoutWorkflow, BareVendorOrderWorkflow],
        activities=NO_OPS,
        max_concurrent_activities=100,
    ):
        print(f"bare worker polling {task_queue} on {address} ({namespace})", flush=True)
        await stopping.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bare_saga", description=__doc__)
    parser.add_argument("--address", required=True, help="Temporal frontend, host:port")
    parser.add_argument("--namespace", default="default")
    parser.add_argument("--task-queue", required=True)
    args = parser.parse_args(argv)
    asyncio.run(serve(args.address, args.namespace, args.task_queue))
    return 0


if __name__ == "__main__":
    sys.exit(main())
