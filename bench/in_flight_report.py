"""The in-flight benchmark's printout (bench.in_flight): phase B against phase A (vendor
orders awaiting shipment, latency, throughput), each server's RSS and CPU, each fill's rate,
the issue's targets, the failed checkouts and the command that reproduces the run."""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping

from bench import (
    format_rate,
    format_ratio,
    options_of,
    ratio,
    reproduce_command,
    summarize,
    verdict,
)
from bench.in_flight_phases import Phase
from bench.proc_stats import Memory, mib, ms_per_order, ms_per_second

# Servers whose memory and CPU are printed, in this order (those that were found).
ROLES = ("worker", "api", "temporal", "postgres", "redis", "stripe")

# The targets (issue 10, "Targets").
P99_AT_MOST = 1.2
WORKER_RSS_AT_MOST_MIB = 1024  # "1 GB", read as 1 GiB


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value * 1000:.1f}"


def print_report(
    args: argparse.Namespace,
    started: Mapping[str, Memory],
    a: Phase,
    b: Phase,
    clock: int,
    hold: str,
) -> None:
    print(
        f"in-flight benchmark: {args.baseline} then {args.in_flight} orders awaiting shipment, "
        f"{args.probe} timed checkouts in each phase, {args.concurrency} at a time, "
        f"{args.products} products; {os.cpu_count()} CPUs; reservation hold {hold}, "
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
            options_of(args, "--in-flight --baseline --probe --concurrency --products --settle"),
        )
    )
