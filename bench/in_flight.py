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
import os
import sys

import httpx

from bench import log
from bench.harness import running_stack, stop_on_sigterm
from bench.in_flight_orders import Orders, set_up_seller, stock_per_product
from bench.in_flight_phases import run_phase
from bench.in_flight_report import print_report
from bench.proc_stats import find_servers, memory
from bench.shop import REQUEST_TIMEOUT
from devstack.stack import DevStack
from temporal.client import connect

# Each hold is renewed at half its length. The default (1 h) would renew the first orders'
# holds 30 min into a 10,000-order run, that is during its fill or its probe: a burst of
# renewal activities that has nothing to do with how many orders are in flight. With a day
# no renewal fires during the run (the holds never expire either, so the reaper finds none).
HOLD = "P1D"
# Servers that must be found among this process's children; the others are read if found.
REQUIRED = ("worker", "api", "temporal")


async def measure(stack: DevStack, args: argparse.Namespace) -> int:
    namespace = stack.env.get("TEMPORAL_NAMESPACE", "default")
    temporal = await connect(stack.env["TEMPORAL_ADDRESS"], namespace)
    servers = find_servers(REQUIRED)
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

    print_report(args, started, a, b, os.sysconf("SC_CLK_TCK"), HOLD)
    failed = sum(sum(phase.probe.failures().values()) for phase in (a, b))
    failed += sum(sum(phase.fill.failures().values()) for phase in (a, b))
    if failed:
        print(f"FAILED: {failed} checkouts were not confirmed (see above)")
        return 1
    return 0


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


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    stop_on_sigterm()
    overrides = {
        "FULFILLMENT_RESERVATION_HOLD": HOLD,
        "FULFILLMENT_TRACES": "off",  # production's default
    }
    with running_stack("bench-in-flight-", overrides, keep=args.keep_data) as stack:
        return asyncio.run(measure(stack, args))


if __name__ == "__main__":
    sys.exit(main())
