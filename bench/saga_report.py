"""The saga benchmark's printout (bench.saga): latency and throughput, history events and CPU
per order of each mode at each concurrency level, then (a)/(c) beside the issue's targets,
the failed checkouts and the command that reproduces the run."""

from __future__ import annotations

import argparse
import os
import statistics
from collections.abc import Mapping, Sequence

from bench import format_ratio, options_of, ratio, reproduce_command, summarize, verdict
from bench.proc_stats import BENCH, ROLES, ms_per_order
from bench.saga_batches import MODES, Cell

# The targets (issue 10, "Targets").
P50_AT_MOST = 1.2
P99_AT_MOST = 1.3
THROUGHPUT_AT_LEAST = 0.8
ORDER_EVENTS_AT_MOST = 30
ALL_EVENTS_AT_MOST = 45


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
    idle_seconds: float,
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
    idle_ms = {name: idle.get(name, 0) * 1000 / clock / idle_seconds for name in idle}
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
    options = options_of(args, "--orders --rounds")
    options.append(("--concurrency", ",".join(map(str, levels))))
    options += options_of(
        args, "--warmup --settle --history-sample --worker-processes --api-workers --traces"
    )
    print("reproduce  " + reproduce_command("bench.saga", options))


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
