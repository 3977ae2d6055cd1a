"""A flash sale through the real API on the embedded stack (issues #4 and #10).

Starts the whole dev stack (PostgreSQL, Redis, Temporal, the Stripe emulator, the worker and
the API as real processes on free ports of 127.0.0.1, in a temporary folder), creates one
vendor and one product with `--units` units, then `--buyers` buyers arrive within `--window`
seconds and check out one unit each through `POST /v1/orders`, each with its own customer and
Idempotency-Key. Prints what was confirmed and refused, what was oversold (must be 0; the
inventory is checked too), the latency of confirmations and of refusals, and issue 10's
targets. Exits 1 if anything was oversold, the inventory disagrees, or a checkout never got a
final answer. The stack is stopped whatever happens.

    .venv/bin/python -m bench.flash_sale --buyers 500 --units 100 --window 1
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
import uuid
from urllib.parse import urlsplit

import httpx

from bench import format_latency, log, options_of, reproduce_command, summarize
from bench.flash_sale_checkouts import (
    Attempt,
    Sale,
    checkout_lean,
    resolve,
    stock_one_product,
    warm_up,
)
from bench.flash_sale_report import report_sale, report_targets
from bench.harness import running_stack, stop_on_sigterm
from bench.lean_http import Pool, encode_request
from bench.proc_stats import cpu_ticks, find_servers
from bench.shop import PLATFORM, REQUEST_TIMEOUT, checked, order_body


async def one_sale(
    api: httpx.AsyncClient, api_url: str, args: argparse.Namespace, number: int
) -> Sale:
    """`--buyers` checkouts of one unit of a fresh SKU. Buyer n is sent n * window / buyers
    after the first, so the whole crowd arrives within `--window` seconds (as a flash sale
    does, and unlike a closed loop of clients, which would slow its own arrivals down to the
    system's pace); at most `--concurrency` are in flight, each on a connection opened before
    the sale (as a buyer's browser has one to the storefront already), its request encoded
    before the sale too."""
    sku = await stock_one_product(api, args.units)
    run = uuid.uuid4().hex[:8]
    attempts = [
        Attempt(n, f"flash-{run}-{n}", order_body(sku, "Flash")) for n in range(args.buyers)
    ]
    address = urlsplit(api_url)
    host, port = address.hostname or "127.0.0.1", address.port or 80
    requests = [
        encode_request(
            "POST",
            "/v1/orders",
            f"{host}:{port}",
            {**PLATFORM, "Idempotency-Key": a.key, "Content-Type": "application/json"},
            json.dumps(a.body).encode(),
        )
        for a in attempts
    ]
    pool = Pool(host, port, min(args.buyers, args.concurrency))
    await pool.open()
    gate = asyncio.Semaphore(args.concurrency)
    sent: list[float] = []
    spacing = args.window / args.buyers
    origin = time.perf_counter()

    async def buyer(attempt: Attempt) -> None:
        arrives = origin + attempt.buyer * spacing
        await asyncio.sleep(max(0.0, arrives - time.perf_counter()))
        async with gate:
            sent.append(time.perf_counter())
            await checkout_lean(pool, attempt, requests[attempt.buyer])
        # From the buyer's arrival: a wait for a free slot (--concurrency) is the buyer's too.
        attempt.seconds = time.perf_counter() - arrives

    log(
        f"sale {number}: {args.buyers} buyers within {args.window:g} s for {args.units} units "
        f"of {sku}, at most {args.concurrency} in flight"
    )
    servers = find_servers(required=())
    before = cpu_ticks(servers)
    try:
        await asyncio.gather(*(buyer(attempt) for attempt in attempts))
    finally:
        await pool.close()
    ended = time.perf_counter()
    after = cpu_ticks(servers)
    tick = os.sysconf("SC_CLK_TCK")
    cpu_seconds = {role: (after.get(role, 0) - spent) / tick for role, spent in before.items()}
    first_answers = {a.buyer: a.outcome for a in attempts}
    unresolved = await resolve(api, attempts)
    inventory = checked(
        await api.get(f"/v1/inventory/{sku}", headers=PLATFORM), 200, "reading the inventory"
    )
    return Sale(
        sku=sku,
        attempts=attempts,
        first_answers=first_answers,
        send_window=max(sent) - min(sent),
        wall=ended - min(sent),
        unresolved=unresolved,
        inventory=inventory,
        cpu_seconds=cpu_seconds,
    )


async def sales(api_url: str, args: argparse.Namespace) -> int:
    limits = httpx.Limits(
        max_connections=args.concurrency, max_keepalive_connections=args.concurrency
    )
    async with httpx.AsyncClient(base_url=api_url, timeout=REQUEST_TIMEOUT, limits=limits) as api:
        log(f"warming up with {args.warmup} checkouts of another product")
        await warm_up(api, args.warmup)
        done = []
        for number in range(1, args.rounds + 1):
            done.append(await one_sale(api, api_url, args, number))
            if number < args.rounds:
                # The confirmed orders' webhooks and children settle before the next crowd.
                await asyncio.sleep(args.pause)

    print(
        f"flash sale: {args.buyers} buyers within {args.window:g} s, {args.units} units of one "
        f"SKU per sale, {args.rounds} sale(s), at most {args.concurrency} in flight, "
        f"{os.cpu_count()} CPUs; {args.api_workers} API process(es), "
        f"{args.worker_processes} worker process(es), checkout deadline {args.checkout_timeout:g} s"
    )
    failures = []
    for number, sale in enumerate(done, start=1):
        failures += report_sale(sale, number, args.units)
    if len(done) > 1:
        pooled_confirmed = [a.seconds for s in done for a in s.of("confirmed")]
        pooled_refused = [a.seconds for s in done for a in s.of("refused")]
        print("all sales")
        print(f"  latency confirmed  {format_latency(summarize(pooled_confirmed))}")
        print(f"  latency refused    {format_latency(summarize(pooled_refused))}")
    report_targets(done, args)
    print(
        "reproduce      "
        + reproduce_command(
            "bench.flash_sale",
            options_of(
                args,
                "--buyers --units --window --concurrency --rounds --api-workers"
                " --worker-processes --checkout-timeout",
            ),
        )
    )
    if failures:
        print("FAILED: " + "; ".join(failures))
        return 1
    return 0


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.flash_sale", description=__doc__)
    parser.add_argument("--buyers", type=int, default=500, help="buyers per sale")
    parser.add_argument("--units", type=int, default=100, help="units of the SKU on sale")
    parser.add_argument(
        "--window", type=float, default=1.0, help="seconds over which the buyers arrive"
    )
    parser.add_argument("--concurrency", type=int, default=500, help="checkouts in flight at most")
    parser.add_argument("--rounds", type=int, default=1, help="sales, each of a fresh SKU")
    parser.add_argument("--pause", type=float, default=5.0, help="seconds between sales (untimed)")
    parser.add_argument(
        "--api-workers", type=int, default=1, help="API processes (FULFILLMENT_API_WORKERS)"
    )
    parser.add_argument(
        "--worker-processes", type=int, default=1, help="worker processes polling the queue"
    )
    parser.add_argument(
        "--checkout-timeout",
        type=float,
        default=45.0,
        help="the API's checkout deadline in seconds (FULFILLMENT_CHECKOUT_TIMEOUT)",
    )
    parser.add_argument(
        "--warmup", type=int, default=5, help="checkouts of another product first (untimed)"
    )
    parser.add_argument(
        "--keep-data", action="store_true", help="keep the stack's folder (logs) afterwards"
    )
    args = parser.parse_args(argv)
    if min(args.buyers, args.concurrency, args.rounds, args.api_workers) < 1:
        parser.error("buyers, concurrency, rounds and api-workers must be positive")
    if args.worker_processes < 1 or args.units < 0 or args.warmup < 0:
        parser.error("worker-processes must be positive, units and warmup not negative")
    if args.window < 0 or args.pause < 0 or args.checkout_timeout <= 0:
        parser.error("window and pause must not be negative, checkout-timeout positive")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    stop_on_sigterm()
    overrides = {
        "FULFILLMENT_API_WORKERS": str(args.api_workers),
        "FULFILLMENT_TRACES": "off",  # production's default (bench/saga.py --traces measures it)
        "FULFILLMENT_CHECKOUT_TIMEOUT": f"PT{args.checkout_timeout:g}S",
    }
    with running_stack(
        "bench-flash-sale-",
        overrides,
        keep=args.keep_data,
        worker_processes=args.worker_processes,
    ) as stack:
        return asyncio.run(sales(stack.api_url, args))


if __name__ == "__main__":
    sys.exit(main())
