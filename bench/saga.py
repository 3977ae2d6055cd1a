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
import shutil
import signal
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any, TypeVar

import httpx
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client, WithStartWorkflowOperation
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.service import RPCError, RPCStatusCode

from bench import format_ratio, log, ratio, reproduce_command, summarize
from bench.bare_saga import (
    CHECKOUT_UPDATE,
    CHECKOUT_WORKFLOW,
    CONFIRMED,
    DEFAULT_HOLD_SECONDS,
    FINISH_SIGNAL,
    LOCAL_CHECKOUT_WORKFLOW,
)
from bench.bare_saga import vendor_order_id as bare_vendor_order_id
from bench.shop import CONFIGURED_SERVICES, PLATFORM, order_body
from bench.shop import set_up_seller as set_up_seller_of
from devstack import ManagedProcess
from devstack.stack import ROOT, DevStack, Ports
from domain.ids import (
    order_id_for_idempotency_key,
    order_workflow_id,
    vendor_order_id,
    vendor_order_workflow_id,
)
from temporal.client import connect

REQUEST_TIMEOUT = 90.0
BARE_TASK_QUEUE = "bench-bare-saga"
# How long the idle servers are watched before the rounds, to show their background CPU.
IDLE_SECONDS = 2.0
# Workflows a bare checkout left open are ended this many at a time after its batch.
FINISH_CONCURRENCY = 16
POLLERS_WITHIN = 60.0

# Server processes whose CPU is read, in the order printed; "bench" (this process, the load
# generator) is printed after their total.
ROLES = ("temporal", "postgres", "redis", "api", "worker", "stripe", "bare worker")
BENCH = "bench"

# The targets (issue 10, "Targets").
P50_AT_MOST = 1.2
P99_AT_MOST = 1.3
THROUGHPUT_AT_LEAST = 0.8
ORDER_EVENTS_AT_MOST = 30
ALL_EVENTS_AT_MOST = 45


@dataclass(frozen=True)
class Mode:
    key: str
    label: str
    workflow: str | None  # None: the real checkout, through the API


REAL = Mode("a", "(a) real checkout", None)
BARE = Mode("b", "(b) bare, activities", CHECKOUT_WORKFLOW)
LOCAL = Mode("c", "(c) bare, local act.", LOCAL_CHECKOUT_WORKFLOW)
MODES = (REAL, BARE, LOCAL)


# ---------------------------------------------------------------------------------------
# Pure helpers (tests/tooling/test_bench_saga.py)


def parse_levels(text: str) -> list[int]:
    """'1,32' -> [1, 32]: distinct positive concurrency levels, ascending."""
    try:
        levels = {int(word) for word in text.split(",") if word.strip()}
    except ValueError:
        raise ValueError(f"not a comma-separated list of integers: {text!r}") from None
    if not levels or min(levels) < 1:
        raise ValueError(f"concurrency levels must be positive integers: {text!r}")
    return sorted(levels)


@dataclass(frozen=True)
class ProcStat:
    pid: int
    ppid: int
    # utime + stime, and cutime + cstime: what it ran, and what its children that it waited
    # for ran (a PostgreSQL backend that ended is counted in the postmaster's).
    own_ticks: int
    reaped_ticks: int

    @property
    def ticks(self) -> int:
        return self.own_ticks + self.reaped_ticks


def parse_stat(text: str) -> ProcStat:
    """One /proc/<pid>/stat line. The command name, in parentheses, may hold spaces and
    parentheses itself, so the fields are counted from the last ')'."""
    pid = int(text.split(" ", 1)[0])
    fields = text[text.rindex(")") + 2 :].split()
    # fields[0] is field 3 of proc(5) (state): field n is fields[n - 3].
    ppid = int(fields[1])
    utime, stime, cutime, cstime = (int(value) for value in fields[11:15])
    return ProcStat(pid, ppid, utime + stime, cutime + cstime)


def tree_ticks(stats: Mapping[int, ProcStat], root: int) -> int:
    """CPU ticks of `root` and of every process below it, the ended ones included: a live
    process's own ticks plus those of the children it reaped, so that nothing is counted
    twice (an ended child is in exactly one live ancestor's count)."""
    children: dict[int, list[int]] = {}
    for stat in stats.values():
        children.setdefault(stat.ppid, []).append(stat.pid)
    total, pending = 0, [root]
    while pending:
        pid = pending.pop()
        if pid in stats:
            total += stats[pid].ticks
            pending.extend(children.get(pid, []))
    return total


def role_of(argv: Sequence[str]) -> str | None:
    """Which of the stack's servers a command line is, or None."""
    if not argv:
        return None
    # Redis rewrites its title to "…/redis-server 127.0.0.1:port" in one word.
    program = Path(argv[0].split(" ", 1)[0]).name
    words = list(argv)
    if "emulators.stripe" in words:
        return "stripe"
    if "bench.bare_saga" in words:
        return "bare worker"
    if "cli" in words and words.index("cli") + 1 < len(words):
        command = words[words.index("cli") + 1]
        if command in ("api", "worker"):
            return command
    if program == "postgres":
        return "postgres"
    if program == "redis-server":
        return "redis"
    if program == "temporal" and "start-dev" in words:
        return "temporal"
    return None


def events_until(times: Iterable[float], moment: float) -> int:
    """How many events happened at or before `moment` (epoch seconds)."""
    return sum(1 for at in times if at <= moment)


@dataclass(frozen=True)
class EventCount:
    alone: int  # the order's (or the bare parent's) workflow
    all: int  # every workflow of the order
    workflows: int  # how many of them had started by then


def event_count(per_workflow: Sequence[int]) -> EventCount:
    """The first workflow is the order's own; one with no events yet did not exist."""
    return EventCount(
        alone=per_workflow[0] if per_workflow else 0,
        all=sum(per_workflow),
        workflows=sum(1 for count in per_workflow if count > 0),
    )


T = TypeVar("T")


def sample_evenly(items: Sequence[T], most: int) -> list[T]:
    """At most `most` of the items, spread evenly from first to last."""
    if most <= 0 or not items:
        return []
    if len(items) <= most:
        return list(items)
    step = len(items) / most
    return [items[int(n * step)] for n in range(most)]


def ms_per_order(ticks: int, orders: int, ticks_per_second: int) -> float | None:
    """CPU ticks spent over `orders` orders, in milliseconds per order."""
    if orders <= 0 or ticks_per_second <= 0:
        return None
    return ticks * 1000 / ticks_per_second / orders


def ticks_between(before: Mapping[str, int], after: Mapping[str, int]) -> dict[str, int]:
    """What each process spent between two readings (a process gone by then spent 0)."""
    return {name: max(after.get(name, 0) - ticks, 0) for name, ticks in before.items()}


def verdict(value: float | None, limit: float, *, at_most: bool) -> str:
    if value is None:
        return "n/a"
    met = value <= limit if at_most else value >= limit
    return "met" if met else "missed"


# ---------------------------------------------------------------------------------------
# The processes and their CPU


def read_processes() -> dict[int, ProcStat]:
    stats: dict[int, ProcStat] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as handle:
                stats[int(entry.name)] = parse_stat(handle.read())
        except (OSError, ValueError, IndexError):
            continue  # ended while we looked
    return stats


def argv_of(pid: int) -> list[str]:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            raw = handle.read()
    except OSError:
        return []
    return [word.decode(errors="replace") for word in raw.split(b"\0") if word]


def find_servers(required: Sequence[str] = ROLES) -> dict[str, list[int]]:
    """The PIDs of each server by role: the stack (and the bare worker) are all children of
    this process (DevStack does not expose its PIDs), known by their command lines. A role
    can have several processes (`--worker-processes`); each of `required` must be found."""
    me = os.getpid()
    found: dict[str, list[int]] = {}
    for stat in read_processes().values():
        if stat.ppid == me:
            role = role_of(argv_of(stat.pid))
            if role is not None:
                found.setdefault(role, []).append(stat.pid)
    missing = [role for role in required if role not in found]
    if missing:
        raise RuntimeError(f"no process found for {missing} among this process's children")
    return found


def cpu_ticks(servers: Mapping[str, Sequence[int]]) -> dict[str, int]:
    """Ticks spent so far by each server's process trees, and by this process alone."""
    stats = read_processes()
    ticks = {role: sum(tree_ticks(stats, pid) for pid in pids) for role, pids in servers.items()}
    me = stats.get(os.getpid())
    ticks[BENCH] = me.own_ticks if me is not None else 0
    return ticks


# ---------------------------------------------------------------------------------------
# Checkouts


@dataclass
class Placed:
    key: str  # Idempotency-Key of (a), workflow id of (b) and (c)
    outcome: str = ""  # "ok" or what went wrong
    seconds: float = 0.0
    answered_at: float = 0.0  # epoch seconds, compared with the servers' event times
    order_id: str = ""

    @property
    def ok(self) -> bool:
        return self.outcome == "ok"


@dataclass
class Cell:
    """One mode at one concurrency level, summed over the rounds."""

    latencies: list[float] = field(default_factory=list)
    orders: int = 0
    wall: float = 0.0
    ticks: dict[str, int] = field(default_factory=dict)
    events: list[EventCount] = field(default_factory=list)
    failures: dict[str, int] = field(default_factory=dict)


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


def _event_seconds(event: HistoryEvent) -> float:
    return event.event_time.seconds + event.event_time.nanos / 1e9


@dataclass
class Batch:
    placed: list[Placed]
    wall: float
    ticks: dict[str, int]
    events: list[EventCount]


class Bench:
    def __init__(
        self,
        api: httpx.AsyncClient,
        temporal: Client,
        vendor_id: str,
        sku: str,
        servers: Mapping[str, Sequence[int]],
        args: argparse.Namespace,
    ) -> None:
        self.api, self.temporal = api, temporal
        self.vendor_id, self.sku = vendor_id, sku
        self.servers = servers
        self.args = args
        self.run = uuid.uuid4().hex[:8]

    async def place(self, mode: Mode, placed: Placed) -> None:
        """One checkout, timed from send to answer."""
        if mode.workflow is None:
            await self._place_real(placed)
        else:
            await self._place_bare(mode.workflow, placed)

    async def _place_real(self, placed: Placed) -> None:
        started = time.perf_counter()
        try:
            answer = await self.api.post(
                "/v1/orders",
                json=order_body(self.sku, "Saga"),
                headers={**PLATFORM, "Idempotency-Key": placed.key},
            )
        except httpx.HTTPError as error:
            placed.seconds = time.perf_counter() - started
            placed.outcome = type(error).__name__
            return
        placed.seconds = time.perf_counter() - started
        placed.answered_at = time.time()
        body = answer.json() if answer.headers.get("content-type", "").endswith("json") else {}
        if answer.status_code == 201 and body.get("status") == "confirmed":
            # The key names the order (domain.ids) if the answer ever stops carrying its id.
            order_id = body.get("id") or order_id_for_idempotency_key("platform", placed.key)
            placed.outcome, placed.order_id = "ok", str(order_id)
        else:
            reason = body.get("code") or body.get("status") or ""
            placed.outcome = f"HTTP {answer.status_code} {reason}".strip()

    async def _place_bare(self, workflow: str, placed: Placed) -> None:
        start: WithStartWorkflowOperation[Any, str] = WithStartWorkflowOperation(
            workflow,
            DEFAULT_HOLD_SECONDS,
            id=placed.key,
            task_queue=BARE_TASK_QUEUE,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            result_type=str,
        )
        started = time.perf_counter()
        try:
            async with asyncio.timeout(REQUEST_TIMEOUT):
                answer = await self.temporal.execute_update_with_start_workflow(
                    CHECKOUT_UPDATE, start_workflow_operation=start, result_type=str
                )
        except Exception as error:  # any failure is a failed checkout, reported by kind
            placed.seconds = time.perf_counter() - started
            placed.outcome = type(error).__name__
            return
        placed.seconds = time.perf_counter() - started
        placed.answered_at = time.time()
        placed.outcome = "ok" if answer == CONFIRMED else f"answered {answer!r}"

    def _workflow_ids(self, mode: Mode, placed: Placed) -> list[str]:
        """The order's own workflow first, then every other workflow started for it."""
        if mode.workflow is not None:
            return [placed.key, bare_vendor_order_id(placed.key)]
        order_id, vendor = placed.order_id, self.vendor_id
        return [
            order_workflow_id(order_id),
            vendor_order_workflow_id(order_id, vendor),
            # A vendor without a webhook URL should get none (issue 10); counted if it exists.
            f"notify-{vendor_order_id(order_id, vendor)}.vendor_order.created",
        ]

    async def events_at_answer(self, mode: Mode, placed: Placed) -> EventCount:
        counts = []
        for workflow_id in self._workflow_ids(mode, placed):
            try:
                history = await self.temporal.get_workflow_handle(workflow_id).fetch_history()
            except RPCError as error:
                if error.status != RPCStatusCode.NOT_FOUND:
                    raise
                counts.append(0)
                continue
            times = [_event_seconds(event) for event in history.events]
            counts.append(events_until(times, placed.answered_at))
        return event_count(counts)

    async def finish_bare(self, placed: Sequence[Placed]) -> None:
        """End the bare children and parents, so no timer of theirs fires in a later batch."""
        gate = asyncio.Semaphore(FINISH_CONCURRENCY)

        async def finish(one: Placed) -> None:
            async with gate:
                try:
                    child = self.temporal.get_workflow_handle(bare_vendor_order_id(one.key))
                    await child.signal(FINISH_SIGNAL)
                    async with asyncio.timeout(REQUEST_TIMEOUT):
                        await self.temporal.get_workflow_handle(one.key).result()
                except Exception as error:  # a checkout that failed may have no child
                    log(f"could not end {one.key}: {type(error).__name__} {error}")

        await asyncio.gather(*(finish(one) for one in placed))

    async def batch(self, mode: Mode, level: int, count: int, tag: str) -> Batch:
        """`count` checkouts of `mode`, at most `level` at a time, with the CPU each server
        spent meanwhile and the history events of a sample of them."""
        prefix = f"saga-{self.run}-{tag}" if mode.workflow is None else f"bare-{self.run}-{tag}"
        placed = [Placed(f"{prefix}-{n}") for n in range(count)]
        gate = asyncio.Semaphore(level)

        async def one(order: Placed) -> None:
            async with gate:
                await self.place(mode, order)

        before = cpu_ticks(self.servers)
        started = time.perf_counter()
        await asyncio.gather(*(one(order) for order in placed))
        wall = time.perf_counter() - started
        # What the orders set off after their answer (webhooks, the children's first tasks)
        # is theirs too: it lands in this batch's CPU, not the next one's.
        await asyncio.sleep(self.args.settle)
        spent = ticks_between(before, cpu_ticks(self.servers))
        answered = [order for order in placed if order.ok]
        events = [
            await self.events_at_answer(mode, order)
            for order in sample_evenly(answered, self.args.history_sample)
        ]
        if mode.workflow is not None:
            await self.finish_bare(answered)
        return Batch(placed, wall, spent, events)


# ---------------------------------------------------------------------------------------
# The run and its report


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
        for round_no in range(1, args.rounds + 1):
            for level in levels:
                for mode in MODES:
                    tag = f"r{round_no}-c{level}-{mode.key}"
                    batch = await bench.batch(mode, level, args.orders, tag)
                    _add(cells[mode.key, level], batch)
                    _log_batch(round_no, args.rounds, level, mode, batch)

    failures = sum(sum(cell.failures.values()) for cell in cells.values())
    print_report(args, cells, idle, clock)
    if failures:
        print(f"FAILED: {failures} checkouts did not answer as they should (see above)")
        return 1
    return 0


def _add(cell: Cell, batch: Batch) -> None:
    for order in batch.placed:
        if order.ok:
            cell.latencies.append(order.seconds)
        else:
            cell.failures[order.outcome] = cell.failures.get(order.outcome, 0) + 1
    cell.orders += len(batch.placed)
    cell.wall += batch.wall
    for role, ticks in batch.ticks.items():
        cell.ticks[role] = cell.ticks.get(role, 0) + ticks
    cell.events.extend(batch.events)


def _log_batch(round_no: int, rounds: int, level: int, mode: Mode, batch: Batch) -> None:
    ok = [order.seconds for order in batch.placed if order.ok]
    summary = summarize(ok)
    p50 = f"p50 {summary.p50 * 1000:.0f} ms" if summary else "no answer"
    log(
        f"round {round_no}/{rounds}, {level} at once, {mode.label}: "
        f"{len(ok)}/{len(batch.placed)} ok, {p50}, {len(batch.placed) / batch.wall:.1f} orders/s"
    )


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _spread(values: Sequence[int]) -> str:
    if not values:
        return "-"
    return f"{statistics.median(values):g} ({min(values)}-{max(values)})"


def print_report(
    args: argparse.Namespace,
    cells: Mapping[tuple[str, int], Cell],
    idle: Mapping[str, int],
    clock: int,
) -> None:
    levels: list[int] = args.levels
    print(
        f"saga benchmark: {args.orders} orders per batch, {args.rounds} rounds, concurrency "
        f"{','.join(map(str, levels))}, modes interleaved; {os.cpu_count()} CPUs; "
        f"{args.worker_processes} worker process(es), {args.api_workers} API process(es)"
    )
    print("  (a) POST /v1/orders through the API (one line, one vendor without webhook URL)")
    print("  (b) BareCheckoutWorkflow: update-with-start, 6 no-op activities, 1 child, answer")
    print("  (c) BareLocalCheckoutWorkflow: the same with 6 no-op local activities")

    print("\nlatency (ms, first answers) and throughput (orders / wall time, over the rounds)")
    print(f"{'conc':>4}  {'mode':<21} {'n':>5} {'p50':>8} {'p95':>8} {'p99':>8} {'orders/s':>9}")
    for level in levels:
        for mode in MODES:
            cell = cells[mode.key, level]
            summary = summarize(cell.latencies)
            p = [None, None, None] if summary is None else [summary.p50, summary.p95, summary.p99]
            rate = ratio(cell.orders, cell.wall)
            print(
                f"{level:>4}  {mode.label:<21} {len(cell.latencies):>5} "
                + " ".join(f"{_ms(None if v is None else v * 1000):>8}" for v in p)
                + f" {_ms(rate):>9}"
            )

    print("\nhistory events per order when the answer arrived (sampled orders; median (min-max))")
    print(f"{'conc':>4}  {'mode':<21} {'sampled':>7}  {'workflow alone':<16} all workflows")
    for level in levels:
        for mode in MODES:
            events = cells[mode.key, level].events
            workflows = _spread([e.workflows for e in events])
            print(
                f"{level:>4}  {mode.label:<21} {len(events):>7}  "
                f"{_spread([e.alone for e in events]):<16} "
                f"{_spread([e.all for e in events]):<16} in {workflows} workflows"
            )

    names = [*ROLES, "total", BENCH]
    print("\nCPU per order (ms; utime+stime of each process tree, over the rounds)")
    print(f"{'conc':>4}  {'mode':<21} " + " ".join(f"{name:>11}" for name in names))
    for level in levels:
        for mode in MODES:
            cell = cells[mode.key, level]
            ticks = {**cell.ticks, "total": sum(cell.ticks.get(role, 0) for role in ROLES)}
            print(
                f"{level:>4}  {mode.label:<21} "
                + " ".join(
                    f"{_ms(ms_per_order(ticks.get(name, 0), cell.orders, clock)):>11}"
                    for name in names
                )
            )
    idle_ms = {name: idle.get(name, 0) * 1000 / clock / IDLE_SECONDS for name in idle}
    idle_ms["total"] = sum(idle_ms.get(role, 0.0) for role in ROLES)
    print(
        f"{'idle':>4}  {'(CPU ms per second)':<21} "
        + " ".join(f"{idle_ms.get(name, 0.0):>11.1f}" for name in names)
    )

    print_targets(levels, cells)
    failures = {
        (mode.label, level, outcome): count
        for mode in MODES
        for level in levels
        for outcome, count in cells[mode.key, level].failures.items()
    }
    print("\nfailed checkouts: " + ("none" if not failures else ""))
    for (label, level, outcome), count in sorted(failures.items()):
        print(f"  {count:5d}  {label} at {level}: {outcome}")
    print(
        "reproduce  "
        + reproduce_command(
            "bench.saga",
            [
                ("--orders", args.orders),
                ("--rounds", args.rounds),
                ("--concurrency", ",".join(map(str, levels))),
                ("--warmup", args.warmup),
                ("--settle", args.settle),
                ("--history-sample", args.history_sample),
                ("--worker-processes", args.worker_processes),
                ("--api-workers", args.api_workers),
            ],
        )
    )


def _share(a: float | None, c: float | None) -> float | None:
    return ratio(a, c) if a is not None and c is not None else None


def print_targets(levels: list[int], cells: Mapping[tuple[str, int], Cell]) -> None:
    """(a)/(c) beside the issue's targets: latency at the lowest level, throughput at the
    highest, and the most history events any sampled real order had when it was answered."""
    low, high = levels[0], levels[-1]
    print("\nagainst the issue's targets ((a) the real checkout, (c) bare with local activities)")

    def row(
        what: str, a: float | None, c: float | None, unit: str, limit: float, at_most: bool
    ) -> None:
        share = _share(a, c)
        print(
            f"  {what:<26} (a) {_ms(a):>8} {unit:<9} (c) {_ms(c):>8} {unit:<9} "
            f"(a)/(c) {format_ratio(share):>6}   target {'<=' if at_most else '>='} {limit}x"
            f"   {verdict(share, limit, at_most=at_most)}"
        )

    real, local = summarize(cells["a", low].latencies), summarize(cells["c", low].latencies)
    for name, limit in (("p50", P50_AT_MOST), ("p99", P99_AT_MOST)):
        a = None if real is None else getattr(real, name) * 1000
        c = None if local is None else getattr(local, name) * 1000
        row(f"latency {name} at {low} at once", a, c, "ms", limit, at_most=True)
    row(
        f"throughput at {high} at once",
        ratio(cells["a", high].orders, cells["a", high].wall),
        ratio(cells["c", high].orders, cells["c", high].wall),
        "orders/s",
        THROUGHPUT_AT_LEAST,
        at_most=False,
    )
    real_events = [e for level in levels for e in cells["a", level].events]
    for what, values, limit in (
        ("order workflow", [e.alone for e in real_events], ORDER_EVENTS_AT_MOST),
        ("all the order's workflows", [e.all for e in real_events], ALL_EVENTS_AT_MOST),
    ):
        most = max(values) if values else None
        print(
            f"  events, {what:<25} (a) most {most if most is not None else '-'}, "
            f"median {_spread(values)} over {len(values)} sampled orders"
            f"   target <= {limit}   {verdict(most, limit, at_most=True)}"
        )


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


def _stop_on_sigterm(signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def start_bare_worker(stack: DevStack, folder: Path) -> ManagedProcess:
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
        folder / "logs" / "bare-worker.log",
        env=stack.env,
        cwd=ROOT,
    )


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    for name in CONFIGURED_SERVICES:
        os.environ.pop(name, None)
    folder = Path(tempfile.mkdtemp(prefix="bench-saga-"))
    overrides = {"FULFILLMENT_ENV": "test", "FULFILLMENT_API_WORKERS": str(args.api_workers)}
    stack = DevStack(
        folder, Ports.free(), overrides=overrides, worker_processes=args.worker_processes
    )
    stops: list[Callable[[], object]] = []
    try:
        stack.start(log=log)
        bare = start_bare_worker(stack, folder)
        stops.append(bare.stop)
        return asyncio.run(measure(stack, bare, args))
    finally:
        for stop in stops:  # before the stack: the bare worker polls its Temporal server
            log("stopping the bare worker")
            stop()
        stack.stop(log=log)
        if args.keep_data:
            log(f"the stack's folder (logs under logs/) is kept: {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
