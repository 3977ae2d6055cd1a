"""A phase of the in-flight benchmark (bench.in_flight): fill until so many orders await
shipment, wait until Temporal's visibility shows them, settle (the servers' idle CPU), then
time the probe's checkouts, with each server's memory after the settle and after the probe."""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from temporalio.client import Client

from bench import format_rate, log, ratio, summarize
from bench.in_flight_orders import Load, Orders
from bench.proc_stats import NO_MEMORY, Memory, cpu_ticks, memory, mib, ticks_between

# The vendor orders awaiting shipment, as Temporal's visibility sees them (the stack is new,
# so all of them are this run's).
AWAITING_QUERY = (
    "WorkflowType = 'VendorOrderWorkflow' AND ExecutionStatus = 'Running'"
    " AND OrderStatus = 'awaiting_shipment'"
)
# How long visibility may take to show every confirmed order before the probe starts anyway.
VISIBLE_WITHIN = 120.0


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
