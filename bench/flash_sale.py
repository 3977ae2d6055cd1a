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
import shutil
import signal
import sys
import tempfile
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any
from urllib.parse import urlsplit

import httpx

from api.request_metrics import app_milliseconds
from bench import format_latency, format_ratio, log, ratio, reproduce_command, summarize
from bench.lean_http import Pool, encode_request
from bench.saga import BENCH, cpu_ticks, find_servers
from bench.shop import CONFIGURED_SERVICES, PLATFORM, checked, order_body, set_up_seller
from devstack.stack import DevStack, Ports

REQUEST_TIMEOUT = 90.0
# How long answers that said nothing final (504, a dropped connection) are asked again after
# the sale, with the same key and body: the API replays the order's outcome.
RESOLVE_WITHIN = 120.0


@dataclass
class Attempt:
    buyer: int
    key: str
    body: dict[str, Any]
    outcome: str = ""  # confirmed | refused | anything else: what went wrong
    seconds: float = 0.0
    final: bool = True
    # What the API itself spent (its Server-Timing header): seconds minus this is time spent
    # before the app saw the request (the load generator, connecting, the accept queue).
    server_seconds: float | None = None


async def stock_one_product(api: httpx.AsyncClient, units: int) -> str:
    """A vendor with one warehouse and one product holding `units`; returns the SKU."""
    _, skus = await set_up_seller(api, "Flash", units=units)
    return skus[0]


async def checkout(api: httpx.AsyncClient, attempt: Attempt) -> None:
    """One buyer's checkout through httpx (asked again after the sale); records its outcome
    and how long the API took to answer."""
    started = time.perf_counter()
    try:
        answer = await api.post(
            "/v1/orders",
            json=attempt.body,
            headers={**PLATFORM, "Idempotency-Key": attempt.key},
        )
    except httpx.HTTPError as error:
        attempt.seconds = time.perf_counter() - started
        attempt.outcome, attempt.final = type(error).__name__, False
        return
    attempt.seconds = time.perf_counter() - started
    judge(attempt, answer.status_code, dict(answer.headers), answer.content)


async def checkout_lean(pool: Pool, attempt: Attempt, request: bytes) -> None:
    """One buyer's checkout in the crowd, its request encoded before the sale."""
    try:
        answer = await pool.exchange(request)
    except (OSError, asyncio.IncompleteReadError, ValueError) as error:
        attempt.outcome, attempt.final = type(error).__name__, False
        return
    judge(attempt, answer.status, answer.headers, answer.body)


def judge(attempt: Attempt, status: int, headers: Mapping[str, str], body: bytes) -> None:
    """Whether an answer is final (201 confirmed, 409 refused, another 4xx) and what the API
    itself spent on it (Server-Timing)."""
    spent = app_milliseconds(headers.get("server-timing"))
    attempt.server_seconds = None if spent is None else spent / 1000
    document = json.loads(body) if body else {}
    code = ""
    if headers.get("content-type", "").startswith("application/problem+json"):
        code = str(document.get("code", ""))
    if status == 201 and document.get("status") == "confirmed":
        attempt.outcome, attempt.final = "confirmed", True
    elif status == 409 and code == "insufficient_stock":
        attempt.outcome, attempt.final = "refused", True
    else:
        attempt.outcome = f"HTTP {status} {code}".strip()
        # 504: the saga had not answered in time; 5xx and transport errors say nothing final.
        attempt.final = status < 500


async def resolve(api: httpx.AsyncClient, attempts: list[Attempt]) -> list[Attempt]:
    """Ask again, with the same key and body, for the orders whose first answer was not
    final, until the API replays their outcome. Their first latency is kept."""
    pending = [a for a in attempts if not a.final]
    if pending:
        log(f"asking again for the {len(pending)} checkouts without a final answer")
    deadline = time.monotonic() + RESOLVE_WITHIN
    while pending and time.monotonic() < deadline:
        await asyncio.sleep(1.0)
        asked = [Attempt(a.buyer, a.key, a.body) for a in pending]
        await asyncio.gather(*(checkout(api, again) for again in asked))
        for attempt, again in zip(pending, asked, strict=True):
            if again.final:
                attempt.outcome, attempt.final = f"{again.outcome} (late)", True
        pending = [a for a in pending if not a.final]
    return pending


async def warm_up(api: httpx.AsyncClient, count: int) -> None:
    """A few checkouts of another product first, so the sale does not time cold starts."""
    if count <= 0:
        return
    sku = await stock_one_product(api, count)
    for n in range(count):
        attempt = Attempt(n, f"warmup-{uuid.uuid4().hex}", order_body(sku, "Flash"))
        await checkout(api, attempt)
        if attempt.outcome != "confirmed":
            raise RuntimeError(f"warm-up checkout {n} was not confirmed: {attempt.outcome}")


@dataclass
class Sale:
    """One sale of `units` units to `buyers` buyers, and what it answered."""

    sku: str
    attempts: list[Attempt]
    first_answers: dict[int, str]
    send_window: float  # first send to last send, seconds
    wall: float  # first send to last answer, seconds
    unresolved: list[Attempt]
    inventory: dict[str, Any]
    cpu_seconds: dict[str, float]  # each server's CPU from the first send to the last answer

    def of(self, outcome: str) -> list[Attempt]:
        return [a for a in self.attempts if self.first_answers[a.buyer] == outcome]

    @property
    def others(self) -> dict[str, int]:
        """What the first answers that were neither 201 nor 409 became when asked again."""
        counts: dict[str, int] = {}
        for attempt in self.attempts:
            first = self.first_answers[attempt.buyer]
            if first not in ("confirmed", "refused"):
                label = f"{first} -> {attempt.outcome}"
                counts[label] = counts.get(label, 0) + 1
        return counts

    @property
    def all_confirmed(self) -> int:
        late = sum(1 for a in self.attempts if a.outcome == "confirmed (late)")
        return len(self.of("confirmed")) + late


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


def report_sale(sale: Sale, number: int, units: int) -> list[str]:
    """Prints one sale; returns what went wrong with it (oversold, stock disagreeing,
    answers never final)."""
    confirmed, refused, others = sale.of("confirmed"), sale.of("refused"), sale.others
    all_confirmed = sale.all_confirmed
    oversold = max(all_confirmed - units, 0)
    inventory = sale.inventory
    stock_ok = inventory["on_hand"] == units and inventory["reserved"] == all_confirmed
    print(f"sale {number} ({sale.sku})")
    print(f"  confirmed      {len(confirmed)}  (201)")
    print(f"  refused        {len(refused)}  (409 insufficient_stock)")
    print(f"  other answers  {sum(others.values())}")
    for label, count in sorted(others.items()):
        print(f"    {count:6d}  {label}")
    if sale.unresolved:
        print(f"    still unresolved after {RESOLVE_WITHIN:.0f}s: {len(sale.unresolved)}")
    print(f"  oversold       {oversold}  (confirmed {all_confirmed} - units {units})")
    unsold = max(units - all_confirmed, 0)
    if unsold and refused:
        print(f"  unsold         {unsold}  (units left while buyers were refused)")
    print(
        f"  inventory      on_hand {inventory['on_hand']} (was {units}), "
        f"reserved {inventory['reserved']} (confirmed {all_confirmed}): "
        f"{'ok' if stock_ok else 'MISMATCH'}"
    )
    print(f"  latency confirmed  {format_latency(summarize([a.seconds for a in confirmed]))}")
    print(f"  latency refused    {format_latency(summarize([a.seconds for a in refused]))}")
    for name, group in (("confirmed", confirmed), ("refused", refused)):
        inside = [a.server_seconds for a in group if a.server_seconds is not None]
        print(f"    of which in the API ({name}) {format_latency(summarize(inside))}")
    busy = "  ".join(
        f"{role} {seconds:.1f}"
        for role, seconds in sorted(sale.cpu_seconds.items(), key=lambda item: -item[1])
        if role != BENCH or seconds > 0
    )
    print(f"  CPU seconds    {busy}  (load generator: {BENCH}; {os.cpu_count()} CPUs)")
    print(
        f"  sent within    {sale.send_window:.2f} s; last answer after {sale.wall:.2f} s "
        f"({len(sale.attempts) / sale.wall:.1f} requests/s)"
    )
    return [
        reason
        for reason, failed in (
            (f"sale {number} OVERSOLD", oversold > 0),
            (f"sale {number}: the inventory disagrees with the answers", not stock_ok),
            (f"sale {number}: some checkouts never got a final answer", bool(sale.unresolved)),
        )
        if failed
    ]


def report_targets(sales: list[Sale], args: argparse.Namespace) -> None:
    """Issue 10's targets over every sale: each sells exactly its units and refuses the rest
    with nothing else answered; refusals answer in at most 50 ms at the median, and at most
    0.05x the confirmations' median (pooled over the sales)."""
    refused_p50 = summarize([a.seconds for s in sales for a in s.of("refused")])
    confirmed_p50 = summarize([a.seconds for s in sales for a in s.of("confirmed")])
    exact = all(
        len(s.of("confirmed")) == min(args.units, args.buyers)
        and len(s.of("refused")) == max(args.buyers - args.units, 0)
        for s in sales
    )
    others = sum(sum(s.others.values()) for s in sales)
    share = ratio(refused_p50.p50, confirmed_p50.p50) if refused_p50 and confirmed_p50 else None
    rows = [
        ("exactly the units confirmed, the rest refused, in every sale", "", exact),
        ("other answers (504, 5xx, dropped)", f"{others}", others == 0),
        (
            "refusal p50 <= 50 ms",
            f"{refused_p50.p50 * 1000:.1f} ms" if refused_p50 else "n/a",
            refused_p50 is not None and refused_p50.p50 <= 0.050,
        ),
        (
            "refusal p50 <= 0.05x confirmation p50",
            format_ratio(share),
            share is not None and share <= 0.05,
        ),
    ]
    print("targets (issue 10)")
    for name, figure, met in rows:
        print(f"  {name:62s} {figure:>10s}  {'met' if met else 'missed'}")


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
            [
                ("--buyers", args.buyers),
                ("--units", args.units),
                ("--window", args.window),
                ("--concurrency", args.concurrency),
                ("--rounds", args.rounds),
                ("--api-workers", args.api_workers),
                ("--worker-processes", args.worker_processes),
                ("--checkout-timeout", args.checkout_timeout),
            ],
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


def _stop_on_sigterm(signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    for name in CONFIGURED_SERVICES:
        os.environ.pop(name, None)
    folder = Path(tempfile.mkdtemp(prefix="bench-flash-sale-"))
    overrides = {
        "FULFILLMENT_ENV": "test",
        "FULFILLMENT_API_WORKERS": str(args.api_workers),
        "FULFILLMENT_CHECKOUT_TIMEOUT": f"PT{args.checkout_timeout:g}S",
    }
    stack = DevStack(
        folder, Ports.free(), overrides=overrides, worker_processes=args.worker_processes
    )
    try:
        stack.start(log=log)
        return asyncio.run(sales(stack.api_url, args))
    finally:
        stack.stop(log=log)
        if args.keep_data:
            log(f"the stack's folder (logs under logs/) is kept: {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
