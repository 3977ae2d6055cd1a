"""The real checkout beside bare workflows of its shape, in one run on one stack (issue 10).

Starts the whole dev stack (as bench/flash_sale.py does) and, as a process of its own, a
worker for the bare workflows of bench/bare_saga.py on the same Temporal server. Then, for
each round, each concurrency level and each mode in turn, `--orders` checkouts:

- (a) the real checkout, `POST /v1/orders` through the API (one line, `pm_card_visa`, each
  order its own customer and Idempotency-Key);
- (b) `BareCheckoutWorkflow`: update-with-start, six no-op activities, one child, answer;
- (c) `BareLocalCheckoutWorkflow`: the same with local activities.

Prints, per mode and concurrency: latency percentiles, orders/s, history events per order at
the moment the answer arrived, and CPU per order of each server process; then the ratios
(a)/(c) beside the issue's targets. Missing a target is a finding, not a failure: it exits 1
only when checkouts failed.

    .venv/bin/python -m bench.saga --orders 40 --rounds 3 --concurrency 1,32
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time

import httpx
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client

from bench import log, progress_bar, summarize
from bench.harness import running_stack, servers, stop_on_sigterm
from bench.proc_stats import cpu_ticks, find_servers, ticks_between
from bench.saga_batches import BARE_TASK_QUEUE, MODES, Batch, Bench, Cell, Mode, add_batch
from bench.saga_report import print_report
from bench.shop import REQUEST_TIMEOUT
from bench.shop import set_up_seller as set_up_seller_of
from devstack import ManagedProcess
from devstack.stack import ROOT, DevStack
from temporal.client import connect

# How long the idle servers are watched before the rounds, to show their background CPU.
IDLE_SECONDS = 2.0
POLLERS_WITHIN = 60.0


def parse_levels(text: str) -> list[int]:
    """'1,32' -> [1, 32]: distinct positive concurrency levels, ascending."""
    try:
        levels = {int(word) for word in text.split(",") if word.strip()}
    except ValueError:
        raise ValueError(f"not a comma-separated list of integers: {text!r}") from None
    if not levels or min(levels) < 1:
        raise ValueError(f"concurrency levels must be positive integers: {text!r}")
    return sorted(levels)


async def set_up_seller(api: httpx.AsyncClient, units: int) -> tuple[str, str]:
    """One vendor (no webhook URL), one warehouse, one product with `units`: (vendor, SKU)."""
    vendor_id, skus = await set_up_seller_of(api, "Saga", units=units)
    return vendor_id, skus[0]


async def wait_for_pollers(temporal: Client, task_queue: str, process: ManagedProcess) -> None:
    request = DescribeTaskQueueRequest(
        namespace=temporal.namespace,
        task_queue=TaskQueue(name=task_queue),
        task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
    )
    deadline = time.monotonic() + POLLERS_WITHIN
    while not (await temporal.workflow_service.describe_task_queue(request)).pollers:
        if not process.is_running():
            raise RuntimeError(f"the bare worker exited:\n{process.log_tail()}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"the bare worker did not poll within {POLLERS_WITHIN:g}s")
        await asyncio.sleep(0.2)


# ---------------------------------------------------------------------------------------
# The run


async def measure(stack: DevStack, bare: ManagedProcess, args: argparse.Namespace) -> int:
    levels: list[int] = args.levels
    namespace = stack.env.get("TEMPORAL_NAMESPACE", "default")
    temporal = await connect(stack.env["TEMPORAL_ADDRESS"], namespace)
    await wait_for_pollers(temporal, BARE_TASK_QUEUE, bare)
    servers = find_servers()
    log("servers: " + ", ".join(f"{role} {pids}" for role, pids in servers.items()))
    clock = os.sysconf("SC_CLK_TCK")
    needed = args.rounds * len(levels) * args.orders + args.warmup
    limits = httpx.Limits(max_connections=max(levels), max_keepalive_connections=max(levels))
    async with httpx.AsyncClient(
        base_url=stack.api_url, timeout=REQUEST_TIMEOUT, limits=limits
    ) as api:
        vendor_id, sku = await set_up_seller(api, units=2 * needed + 100)
        bench = Bench(api, temporal, vendor_id, sku, servers, args)

        log(f"warming up: {args.warmup} untimed checkouts of each mode")
        for mode in MODES:
            warm = await bench.batch(mode, 1, args.warmup, f"warmup-{mode.key}")
            failed = [order for order in warm.placed if not order.ok]
            if failed:
                print(f"FAILED: warm-up checkout of {mode.label}: {failed[0].outcome}")
                return 1

        before = cpu_ticks(servers)
        await asyncio.sleep(IDLE_SECONDS)
        idle = ticks_between(before, cpu_ticks(servers))

        cells = {(mode.key, level): Cell() for mode in MODES for level in levels}
        batches = args.rounds * len(levels) * len(MODES)
        done = 0
        with progress_bar("checkout batches", batches) as advance:
            for round_no in range(1, args.rounds + 1):
                for level in levels:
                    for mode in MODES:
                        tag = f"r{round_no}-c{level}-{mode.key}"
                        batch = await bench.batch(mode, level, args.orders, tag)
                        add_batch(cells[mode.key, level], batch)
                        _log_batch(round_no, args.rounds, level, mode, batch)
                        done += 1
                        advance(done)

    failures = sum(sum(cell.failures.values()) for cell in cells.values())
    print_report(args, cells, idle, IDLE_SECONDS, clock)
    if failures:
        print(f"FAILED: {failures} checkouts did not answer as they should (see above)")
        return 1
    return 0


def _log_batch(round_no: int, rounds: int, level: int, mode: Mode, batch: Batch) -> None:
    ok = [order.seconds for order in batch.placed if order.ok]
    summary = summarize(ok)
    p50 = f"p50 {summary.p50 * 1000:.0f} ms" if summary else "no answer"
    log(
        f"round {round_no}/{rounds}, {level} at once, {mode.label}: "
        f"{len(ok)}/{len(batch.placed)} ok, {p50}, {len(batch.placed) / batch.wall:.1f} orders/s"
    )


# ---------------------------------------------------------------------------------------
# Entry point


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.saga", description=__doc__)
    parser.add_argument("--orders", type=int, default=40, help="checkouts per mode per batch")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds")
    parser.add_argument(
        "--concurrency", default="1,32", help="comma-separated checkouts in flight at once"
    )
    parser.add_argument(
        "--warmup", type=int, default=3, help="untimed checkouts of each mode first"
    )
    parser.add_argument(
        "--settle",
        type=float,
        default=1.0,
        help="seconds after each batch before its CPU is read (follow-ups of its orders)",
    )
    parser.add_argument(
        "--history-sample",
        type=int,
        default=20,
        help="orders per batch whose workflow histories are counted",
    )
    parser.add_argument(
        "--worker-processes", type=int, default=1, help="worker processes polling the queue"
    )
    parser.add_argument(
        "--api-workers", type=int, default=1, help="API processes (FULFILLMENT_API_WORKERS)"
    )
    parser.add_argument(
        "--traces",
        default="off",
        help="FULFILLMENT_TRACES of the stack (off, as in production, or file:PATH)",
    )
    parser.add_argument(
        "--keep-data", action="store_true", help="keep the stack's folder (logs) afterwards"
    )
    args = parser.parse_args(argv)
    try:
        args.levels = parse_levels(args.concurrency)
    except ValueError as error:
        parser.error(str(error))
    if min(args.orders, args.rounds, args.worker_processes, args.api_workers) < 1:
        parser.error("orders, rounds, worker-processes and api-workers must be positive")
    if args.warmup < 0 or args.settle < 0 or args.history_sample < 0:
        parser.error("warmup, settle and history-sample must not be negative")
    return args


def start_bare_worker(stack: DevStack) -> ManagedProcess:
    """The bare workflows' worker, a process of its own so that its CPU is read apart."""
    return ManagedProcess.start(
        "bare worker",
        [
            sys.executable,
            "-m",
            "bench.bare_saga",
            "--address",
            stack.env["TEMPORAL_ADDRESS"],
            "--namespace",
            stack.env.get("TEMPORAL_NAMESPACE", "default"),
            "--task-queue",
            BARE_TASK_QUEUE,
        ],
        stack.data_dir / "logs" / "bare-worker.log",
        env=stack.env,
        cwd=ROOT,
    )


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    stop_on_sigterm()
    overrides = {
        "FULFILLMENT_API_WORKERS": str(args.api_workers),
        # Production's default; `--traces file:PATH` measures what tracing costs.
        "FULFILLMENT_TRACES": args.traces,
    }
    with (
        running_stack(
            "bench-saga-",
            overrides,
            keep=args.keep_data,
            worker_processes=args.worker_processes,
        ) as stack,
        servers() as own,  # stopped before the stack: the bare worker polls its Temporal
    ):
        bare = start_bare_worker(stack)
        own.add("the bare worker", bare.stop)
        return asyncio.run(measure(stack, bare, args))


if __name__ == "__main__":
    sys.exit(main())
