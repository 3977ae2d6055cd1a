"""Checkout with 10,000 orders awaiting shipment against 100, in one run (issue 10).

Starts the whole dev stack as bench/saga.py does, with a reservation hold long enough that no
hold is renewed during the run (see HOLD), and over HTTP one vendor without webhook URL (and
the default ship SLA, 72 h) with `--products` products in stock. Then:

- phase A: `--baseline` orders are placed and left awaiting shipment; `--probe` checkouts are
  timed, at most `--concurrency` at a time;
- phase B: more orders are placed, as fast as the stack takes them at `--concurrency`, until
  `--in-flight` orders await shipment; the same `--probe` checkouts are timed again.

Before each probe the benchmark waits until Temporal's visibility shows every confirmed order
awaiting shipment, then `--settle` seconds (the servers' CPU meanwhile is their idle cost).
For each phase it prints latency p50/p95/p99, orders/s, the RSS of each server's process
tree (VmRSS from /proc, summed over the tree) and their CPU; then B against A beside the
issue's targets. A missed target is a finding: it exits 1 only when checkouts failed.

    .venv/bin/python -m bench.in_flight --in-flight 10000 --baseline 100 --probe 200 \
        --concurrency 32
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import math
import os
import shutil
import signal
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

import httpx
from temporalio.client import Client

from bench import format_ratio, log, ratio, reproduce_command, summarize
from bench.saga import (
    REQUEST_TIMEOUT,
    Placed,
    ProcStat,
    argv_of,
    ms_per_order,
    read_processes,
    role_of,
    ticks_between,
    tree_ticks,
    verdict,
)
from bench.shop import CONFIGURED_SERVICES, PLATFORM, order_body
from bench.shop import set_up_seller as set_up_seller_of
from devstack.stack import DevStack, Ports
from domain.ids import order_id_for_idempotency_key
from temporal.client import connect

# Each hold is renewed at half its length. The default (1 h) would renew the first orders'
# holds 30 min into a 10,000-order run, that is during its fill or its probe: a burst of
# renewal activities that has nothing to do with how many orders are in flight. With a day
# no renewal fires during the run (the holds never expire either, so the reaper finds none).
HOLD = "P1D"
# The vendor orders awaiting shipment, as Temporal's visibility sees them (the stack is new,
# so all of them are this run's).
AWAITING_QUERY = (
    "WorkflowType = 'VendorOrderWorkflow' AND ExecutionStatus = 'Running'"
    " AND OrderStatus = 'awaiting_shipment'"
)
# How long visibility may take to show every confirmed order before the probe starts anyway.
VISIBLE_WITHIN = 120.0
PROGRESS_EVERY = 1000
# A fill tops up what failed this many times at most (a 504 may still confirm later).
FILL_ROUNDS = 3

# Servers whose memory and CPU are read, in the order printed; the first three must exist.
ROLES = ("worker", "api", "temporal", "postgres", "redis", "stripe")
REQUIRED = ("worker", "api", "temporal")

# The targets (issue 10, "Targets").
P99_AT_MOST = 1.2
WORKER_RSS_AT_MOST_MIB = 1024  # "1 GB", read as 1 GiB


# ---------------------------------------------------------------------------------------
# Pure helpers (tests/tooling/test_bench_in_flight.py)


@dataclass(frozen=True)
class Memory:
    rss_kib: int  # VmRSS: resident now
    peak_kib: int  # VmHWM: the most each process was ever resident, summed

    def __add__(self, other: Memory) -> Memory:
        return Memory(self.rss_kib + other.rss_kib, self.peak_kib + other.peak_kib)


NO_MEMORY = Memory(0, 0)


def parse_memory(status: str) -> Memory:
    """VmRSS and VmHWM of one /proc/<pid>/status (in kB, that is KiB); a kernel thread or a
    zombie has neither and counts 0."""
    values = {"VmRSS": 0, "VmHWM": 0}
    for line in status.splitlines():
        name, _, rest = line.partition(":")
        if name in values:
            values[name] = int(rest.split()[0])
    return Memory(values["VmRSS"], values["VmHWM"])


def tree_members(parents: Mapping[int, int], root: int) -> list[int]:
    """`root` and every live process below it (pid -> parent pid); [] when root is gone."""
    if root not in parents:
        return []
    children: dict[int, list[int]] = {}
    for pid, parent in parents.items():
        children.setdefault(parent, []).append(pid)
    members, pending = [], [root]
    while pending:
        pid = pending.pop()
        members.append(pid)
        pending.extend(child for child in children.get(pid, []) if child != pid)
    return sorted(members)


def mib(kib: int) -> float:
    return kib / 1024


def crossed(before: int, after: int, every: int) -> list[int]:
    """The multiples of `every` in (before, after]: progress marks a count went past."""
    if every <= 0:
        return []
    first = before // every + 1
    return [n * every for n in range(first, after // every + 1)]


def stock_per_product(orders: int, products: int) -> int:
    """Units per product so that `orders` one-unit orders spread round-robin over `products`
    never run out, with room for retried and top-up orders."""
    return 2 * math.ceil(orders / products) + 100


def ms_per_second(ticks: int, seconds: float, ticks_per_second: int) -> float | None:
    if seconds <= 0 or ticks_per_second <= 0:
        return None
    return ticks * 1000 / ticks_per_second / seconds


# ---------------------------------------------------------------------------------------
# The servers: which processes, their memory and their CPU


def find_servers() -> dict[str, list[int]]:
    """The PIDs of each server in ROLES among this process's children (the stack is; it does
    not expose its PIDs), known by their command lines. A role may have several (workers)."""
    me = os.getpid()
    found: dict[str, list[int]] = {}
    for stat in read_processes().values():
        if stat.ppid == me:
            role = role_of(argv_of(stat.pid))
            if role in ROLES:
                found.setdefault(role, []).append(stat.pid)
    missing = [role for role in REQUIRED if role not in found]
    if missing:
        raise RuntimeError(f"no process found for {missing} among this process's children")
    return found


def _status_memory(pid: int) -> Memory:
    try:
        with open(f"/proc/{pid}/status") as handle:
            return parse_memory(handle.read())
    except (OSError, ValueError, IndexError):
        return NO_MEMORY  # ended while we looked


def memory(servers: Mapping[str, Sequence[int]]) -> dict[str, Memory]:
    """Each server's process trees, summed (pages shared between processes, such as
    PostgreSQL's shared buffers, count once per process that touched them)."""
    parents = {pid: stat.ppid for pid, stat in read_processes().items()}
    totals: dict[str, Memory] = {}
    for role, roots in servers.items():
        total = NO_MEMORY
        for root in roots:
            for pid in tree_members(parents, root):
                total += _status_memory(pid)
        totals[role] = total
    return totals


def cpu_ticks(servers: Mapping[str, Sequence[int]]) -> dict[str, int]:
    """CPU ticks so far of each server's process trees, ended children included."""
    stats: dict[int, ProcStat] = read_processes()
    return {role: sum(tree_ticks(stats, root) for root in roots) for role, roots in servers.items()}


# ---------------------------------------------------------------------------------------
# Setup and checkouts


async def set_up_seller(api: httpx.AsyncClient, products: int, units: int) -> list[str]:
    """One vendor (no webhook URL, the default ship SLA), one warehouse, `products` products
    with `units` each: their SKUs. Orders spread over them, so that no single stock row's lock
    paces the fill."""
    _, skus = await set_up_seller_of(api, "In flight", products=products, units=units)
    return skus


async def checkout(api: httpx.AsyncClient, sku: str, placed: Placed) -> None:
    """`POST /v1/orders`, one unit, timed from send to answer; "ok" only for a confirmation."""
    started = time.perf_counter()
    try:
        answer = await api.post(
            "/v1/orders",
            json=order_body(sku, "Flight"),
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
        order_id = body.get("id") or order_id_for_idempotency_key("platform", placed.key)
        placed.outcome, placed.order_id = "ok", str(order_id)
    else:
        reason = body.get("code") or body.get("status") or ""
        placed.outcome = f"HTTP {answer.status_code} {reason}".strip()


@dataclass
class Load:
    """Orders placed by one call of `place`."""

    placed: list[Placed] = field(default_factory=list)
    wall: float = 0.0

    @property
    def confirmed(self) -> int:
        return sum(1 for order in self.placed if order.ok)

    def failures(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for order in self.placed:
            if not order.ok:
                counts[order.outcome] = counts.get(order.outcome, 0) + 1
        return counts


class Orders:
    """Places checkouts, round-robin over the SKUs, each with its own key."""

    def __init__(self, api: httpx.AsyncClient, skus: Sequence[str], concurrency: int) -> None:
        self.api, self.skus, self.concurrency = api, list(skus), concurrency
        self.run = uuid.uuid4().hex[:8]
        self._sequence = itertools.count()

    async def place(
        self, count: int, tag: str, progress: Callable[[int], None] | None = None
    ) -> Load:
        """`count` checkouts, at most `concurrency` at a time; `progress(confirmed)` after
        each confirmation."""
        load = Load()
        remaining = iter(range(count))
        confirmed = 0  # counted as they come: Load.confirmed walks every order

        async def lane() -> None:
            nonlocal confirmed
            for _ in remaining:  # shared by the lanes: each number is taken once
                n = next(self._sequence)
                placed = Placed(f"flight-{self.run}-{tag}-{n}")
                load.placed.append(placed)
                await checkout(self.api, self.skus[n % len(self.skus)], placed)
                if placed.ok:
                    confirmed += 1
                    if progress is not None:
                        progress(confirmed)

        started = time.perf_counter()
        await asyncio.gather(*(lane() for _ in range(min(self.concurrency, count))))
        load.wall = time.perf_counter() - started
        return load

    async def fill(self, count: int, tag: str, already: int) -> Load:
        """Orders until `count` more are confirmed, progress logged every PROGRESS_EVERY
        orders awaiting shipment (`already` of them before); what failed is topped up, at
        most FILL_ROUNDS times."""
        total = Load()
        shown = already
        earlier = 0  # confirmed by the rounds before this one

        def progress(confirmed: int) -> None:
            nonlocal shown
            now = already + earlier + confirmed
            for mark in crossed(shown, now, PROGRESS_EVERY):
                rate = (now - already) / max(time.perf_counter() - started, 1e-9)
                log(f"{mark} orders awaiting shipment ({rate:.1f} orders/s)")
            shown = max(shown, now)

        started = time.perf_counter()
        for _ in range(FILL_ROUNDS):
            if earlier >= count:
                break
            load = await self.place(count - earlier, tag, progress)
            total.placed.extend(load.placed)
            failures = load.failures()
            if failures:
                log(f"{tag}: {sum(failures.values())} not confirmed: {failures}")
            if load.confirmed == 0:
                break  # nothing gets through: topping up would only repeat that
            earlier += load.confirmed
        total.wall = time.perf_counter() - started
        return total


# ---------------------------------------------------------------------------------------
# A phase: fill, settle, probe


@dataclass
class Phase:
    name: str
    fill: Load
    visible_before: int  # vendor orders awaiting shipment when the probe started
    visible_after: int  # and when it ended
    probe: Load
    settle_seconds: float
    idle_ticks: dict[str, int]  # during the settle
    probe_ticks: dict[str, int]  # from the probe's start to its end
    at_rest: dict[str, Memory]  # after the settle, before the probe
    after_probe: dict[str, Memory]

    def rss_mib(self, role: str) -> float:
        """The larger of the two readings: the target is about the worst moment seen."""
        return mib(
            max(
                self.at_rest.get(role, NO_MEMORY).rss_kib,
                self.after_probe.get(role, NO_MEMORY).rss_kib,
            )
        )


async def awaiting_shipment(temporal: Client) -> int:
    return (await temporal.count_workflows(AWAITING_QUERY)).count


async def wait_visible(temporal: Client, expected: int) -> int:
    """Until visibility shows at least `expected` vendor orders awaiting shipment (each
    confirmed order has one), or VISIBLE_WITHIN passed: what it shows."""
    deadline = time.monotonic() + VISIBLE_WITHIN
    while True:
        seen = await awaiting_shipment(temporal)
        if seen >= expected or time.monotonic() > deadline:
            return seen
        await asyncio.sleep(1.0)


async def run_phase(
    name: str,
    orders: Orders,
    temporal: Client,
    servers: Mapping[str, Sequence[int]],
    fill_to: int,
    confirmed_before: int,
    args: argparse.Namespace,
) -> Phase:
    """Fill until `fill_to` orders await shipment (`confirmed_before` already do), settle,
    probe."""
    needed = max(fill_to - confirmed_before, 0)
    log(f"phase {name}: placing {needed} orders to have {fill_to} awaiting shipment")
    fill = await orders.fill(needed, f"{name}-fill", confirmed_before)
    rate = ratio(len(fill.placed), fill.wall)
    log(
        f"phase {name}: {fill.confirmed}/{len(fill.placed)} confirmed in {fill.wall:.1f}s "
        f"({format_rate(rate)} orders/s)"
    )
    expected = confirmed_before + fill.confirmed
    seen = await wait_visible(temporal, expected)
    log(
        f"phase {name}: {seen} vendor orders awaiting shipment (expected {expected}); "
        f"settling {args.settle:g}s"
    )
    before = cpu_ticks(servers)
    settle_started = time.perf_counter()
    await asyncio.sleep(args.settle)
    settle_seconds = time.perf_counter() - settle_started
    idle = ticks_between(before, cpu_ticks(servers))
    at_rest = memory(servers)

    log(f"phase {name}: timing {args.probe} checkouts, {args.concurrency} at a time")
    before = cpu_ticks(servers)
    probe = await orders.place(args.probe, f"{name}-probe")
    probe_ticks = ticks_between(before, cpu_ticks(servers))
    after_probe = memory(servers)
    summary = summarize([order.seconds for order in probe.placed if order.ok])
    log(
        f"phase {name}: {probe.confirmed}/{args.probe} ok"
        + (f", p99 {summary.p99 * 1000:.0f} ms" if summary else "")
        + f", worker RSS {mib(after_probe['worker'].rss_kib):.0f} MiB"
    )
    visible_after = await wait_visible(temporal, expected + probe.confirmed)
    return Phase(
        name,
        fill,
        seen,
        visible_after,
        probe,
        settle_seconds,
        idle,
        probe_ticks,
        at_rest,
        after_probe,
    )


async def measure(stack: DevStack, args: argparse.Namespace) -> int:
    namespace = stack.env.get("TEMPORAL_NAMESPACE", "default")
    temporal = await connect(stack.env["TEMPORAL_ADDRESS"], namespace)
    servers = find_servers()
    log("servers: " + ", ".join(f"{role} {pids}" for role, pids in servers.items()))
    # Every order the run may place, retries and top-ups aside (stock_per_product doubles it).
    most = args.in_flight + 2 * args.probe
    limits = httpx.Limits(
        max_connections=args.concurrency, max_keepalive_connections=args.concurrency
    )
    async with httpx.AsyncClient(
        base_url=stack.api_url, timeout=REQUEST_TIMEOUT, limits=limits
    ) as api:
        skus = await set_up_seller(api, args.products, stock_per_product(most, args.products))
        orders = Orders(api, skus, args.concurrency)
        started = memory(servers)
        a = await run_phase("A", orders, temporal, servers, args.baseline, 0, args)
        confirmed = a.fill.confirmed + a.probe.confirmed
        b = await run_phase("B", orders, temporal, servers, args.in_flight, confirmed, args)

    print_report(args, started, a, b, os.sysconf("SC_CLK_TCK"))
    failed = sum(sum(phase.probe.failures().values()) for phase in (a, b))
    failed += sum(sum(phase.fill.failures().values()) for phase in (a, b))
    if failed:
        print(f"FAILED: {failed} checkouts were not confirmed (see above)")
        return 1
    return 0


# ---------------------------------------------------------------------------------------
# The report


def format_rate(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value * 1000:.1f}"


def print_report(
    args: argparse.Namespace, started: Mapping[str, Memory], a: Phase, b: Phase, clock: int
) -> None:
    print(
        f"in-flight benchmark: {args.baseline} then {args.in_flight} orders awaiting shipment, "
        f"{args.probe} timed checkouts in each phase, {args.concurrency} at a time, "
        f"{args.products} products; {os.cpu_count()} CPUs; reservation hold {HOLD}, "
        "ship SLA 72 h (the default)"
    )
    width = 44

    def row(what: str, left: str, right: str, share: str = "") -> None:
        print(f"  {what:<{width}} {left:>12} {right:>12} {share:>8}")

    print()
    row("", "A", "B", "B/A")
    row(
        "awaiting shipment, probe start -> end",
        f"{a.visible_before}->{a.visible_after}",
        f"{b.visible_before}->{b.visible_after}",
    )
    row(
        "probe checkouts confirmed",
        f"{a.probe.confirmed}/{len(a.probe.placed)}",
        f"{b.probe.confirmed}/{len(b.probe.placed)}",
    )
    sa = summarize([order.seconds for order in a.probe.placed if order.ok])
    sb = summarize([order.seconds for order in b.probe.placed if order.ok])
    for name in ("p50", "p95", "p99", "max"):
        va = None if sa is None else float(getattr(sa, name))
        vb = None if sb is None else float(getattr(sb, name))
        share = format_ratio(ratio(vb, va)) if va is not None and vb is not None else "n/a"
        row(f"checkout latency {name} (ms)", _ms(va), _ms(vb), share)
    ra, rb = ratio(len(a.probe.placed), a.probe.wall), ratio(len(b.probe.placed), b.probe.wall)
    row(
        "checkout throughput (orders/s)",
        format_rate(ra),
        format_rate(rb),
        format_ratio(ratio(rb, ra)) if ra is not None and rb is not None else "n/a",
    )

    print("\n  RSS (MiB; VmRSS of each process tree, summed; 'start' before phase A)")
    print(
        f"  {'':<{width}} {'start':>12} {'A rest':>12} {'A probe':>12} {'B rest':>12} "
        f"{'B probe':>12} {'B peak':>12}"
    )
    for role in ROLES:
        if role not in started:
            continue
        cells = [
            started[role].rss_kib,
            a.at_rest[role].rss_kib,
            a.after_probe[role].rss_kib,
            b.at_rest[role].rss_kib,
            b.after_probe[role].rss_kib,
            b.after_probe[role].peak_kib,
        ]
        print(f"  {role:<{width}} " + " ".join(f"{mib(kib):>12.0f}" for kib in cells))
    print(
        "  (rest: after the settle, before the probe; probe: after it; peak: the sum of each"
        " process's VmHWM.\n   PostgreSQL's shared buffers count once per backend.)"
    )

    print("\n  CPU (ms): per second while settling, per order while probing")
    print(f"  {'':<{width}} {'A idle/s':>12} {'B idle/s':>12} {'A /order':>12} {'B /order':>12}")
    for role in ROLES:
        if role not in a.idle_ticks:
            continue
        figures = [
            ms_per_second(a.idle_ticks[role], a.settle_seconds, clock),
            ms_per_second(b.idle_ticks[role], b.settle_seconds, clock),
            ms_per_order(a.probe_ticks.get(role, 0), len(a.probe.placed), clock),
            ms_per_order(b.probe_ticks.get(role, 0), len(b.probe.placed), clock),
        ]
        print(f"  {role:<{width}} " + " ".join(f"{format_rate(v):>12}" for v in figures))

    for phase in (a, b):
        rate = ratio(len(phase.fill.placed), phase.fill.wall)
        print(
            f"\n  phase {phase.name} fill: {phase.fill.confirmed}/{len(phase.fill.placed)} "
            f"confirmed in {phase.fill.wall:.1f} s ({format_rate(rate)} orders/s)"
        )

    print("\nagainst the issue's targets")
    p99 = ratio(sb.p99, sa.p99) if sa is not None and sb is not None else None
    print(
        f"  checkout p99 B/A           {format_ratio(p99):>8}   target <= {P99_AT_MOST}x   "
        f"{verdict(p99, P99_AT_MOST, at_most=True)}"
    )
    worker = b.rss_mib("worker")
    print(
        f"  worker RSS in B            {worker:>5.0f} MiB   target <= {WORKER_RSS_AT_MOST_MIB}"
        f" MiB   {verdict(worker, WORKER_RSS_AT_MOST_MIB, at_most=True)}"
    )
    if b.visible_before < args.in_flight:
        print(
            f"  (B probed with {b.visible_before} awaiting shipment, fewer than the "
            f"{args.in_flight} asked for)"
        )

    failures: dict[tuple[str, str], int] = {}
    for phase in (a, b):
        for what, load in (("fill", phase.fill), ("probe", phase.probe)):
            for outcome, count in load.failures().items():
                failures[f"{phase.name} {what}", outcome] = count
    print("\nfailed checkouts: " + ("none" if not failures else ""))
    for (where, outcome), count in sorted(failures.items()):
        print(f"  {count:5d}  {where}: {outcome}")
    print(
        "reproduce  "
        + reproduce_command(
            "bench.in_flight",
            [
                ("--in-flight", args.in_flight),
                ("--baseline", args.baseline),
                ("--probe", args.probe),
                ("--concurrency", args.concurrency),
                ("--products", args.products),
                ("--settle", args.settle),
            ],
        )
    )


# ---------------------------------------------------------------------------------------
# Entry point


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.in_flight", description=__doc__)
    parser.add_argument(
        "--in-flight", type=int, default=10_000, help="orders awaiting shipment in phase B"
    )
    parser.add_argument(
        "--baseline", type=int, default=100, help="orders awaiting shipment in phase A"
    )
    parser.add_argument("--probe", type=int, default=200, help="timed checkouts per phase")
    parser.add_argument("--concurrency", type=int, default=32, help="checkouts at once")
    parser.add_argument("--products", type=int, default=10, help="products the orders spread over")
    parser.add_argument(
        "--settle", type=float, default=10.0, help="seconds of quiet before each probe"
    )
    parser.add_argument(
        "--keep-data", action="store_true", help="keep the stack's folder (logs) afterwards"
    )
    args = parser.parse_args(argv)
    if min(args.baseline, args.probe, args.concurrency, args.products) < 1:
        parser.error("baseline, probe, concurrency and products must be positive")
    if args.in_flight <= args.baseline + args.probe:
        # Phase A's probe orders stay awaiting shipment too: B must start above them.
        parser.error("--in-flight must be more than --baseline + --probe")
    if args.settle < 0:
        parser.error("--settle must not be negative")
    return args


def _stop_on_sigterm(signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    for name in CONFIGURED_SERVICES:
        os.environ.pop(name, None)
    folder = Path(tempfile.mkdtemp(prefix="bench-in-flight-"))
    stack = DevStack(
        folder,
        Ports.free(),
        overrides={"FULFILLMENT_ENV": "test", "FULFILLMENT_RESERVATION_HOLD": HOLD},
    )
    try:
        stack.start(log=log)
        return asyncio.run(measure(stack, args))
    finally:
        stack.stop(log=log)
        if args.keep_data:
            log(f"the stack's folder (logs under logs/) is kept: {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
