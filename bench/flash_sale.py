"""A flash sale through the real API on the embedded stack (issue #4).

Starts the whole dev stack (PostgreSQL, Redis, Temporal, the Stripe emulator, the worker and
the API as real processes on free ports of 127.0.0.1, in a temporary folder), creates one
vendor and one product with `--units` units, then `--buyers` buyers check out one unit each
through `POST /v1/orders`, at most `--concurrency` at a time, each with its own customer and
Idempotency-Key. Prints what was confirmed and refused, what was oversold (must be 0; the
inventory is checked too), the latency of confirmations and of refusals, and the requests per
second. Exits 1 if anything was oversold or the inventory disagrees. The stack is stopped
whatever happens.

    .venv/bin/python -m bench.flash_sale --buyers 1000 --units 100 --concurrency 200
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

import httpx

from bench import format_latency, log, reproduce_command, summarize
from bench.shop import checked, order_body, set_up_seller
from models.settings import DEV_OPS_KEY, DEV_PLATFORM_KEY
from temporal.devstack import DevStack, Ports

OPS = {"Authorization": f"Bearer {DEV_OPS_KEY}"}
PLATFORM = {"Authorization": f"Bearer {DEV_PLATFORM_KEY}"}
# Services the stack would take from the environment instead of starting its own: a load
# test only ever targets the servers it started on this machine.
CONFIGURED_SERVICES = (
    "DATABASE_URL",
    "REDIS_URL",
    "TEMPORAL_ADDRESS",
    "STRIPE_API_BASE",
    "STRIPE_API_KEY",
)
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


async def stock_one_product(api: httpx.AsyncClient, units: int) -> str:
    """A vendor with one warehouse and one product holding `units`; returns the SKU."""
    _, skus = await set_up_seller(api, "Flash", units=units)
    return skus[0]


async def checkout(api: httpx.AsyncClient, attempt: Attempt) -> None:
    """One buyer's checkout; records its outcome and how long the API took to answer."""
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
    code = ""
    if answer.headers.get("content-type", "").startswith("application/problem+json"):
        code = str(answer.json().get("code", ""))
    if answer.status_code == 201 and answer.json().get("status") == "confirmed":
        attempt.outcome, attempt.final = "confirmed", True
    elif answer.status_code == 409 and code == "insufficient_stock":
        attempt.outcome, attempt.final = "refused", True
    else:
        attempt.outcome = f"HTTP {answer.status_code} {code}".strip()
        # 504: the saga had not answered in time; 5xx and transport errors say nothing final.
        attempt.final = answer.status_code < 500


async def resolve(api: httpx.AsyncClient, attempts: list[Attempt]) -> list[Attempt]:
    """Ask again, with the same key and body, for the orders whose first answer was not
    final, until the API replays their outcome. Their first latency is kept."""
    pending = [a for a in attempts if not a.final]
    if pending:
        log(f"asking again for the {len(pending)} checkouts without a final answer")
    deadline = time.monotonic() + RESOLVE_WITHIN
    while pending and time.monotonic() < deadline:
        await asyncio.sleep(1.0)
        for attempt in pending:
            again = Attempt(attempt.buyer, attempt.key, attempt.body)
            await checkout(api, again)
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


async def sale(api_url: str, args: argparse.Namespace) -> int:
    limits = httpx.Limits(
        max_connections=args.concurrency, max_keepalive_connections=args.concurrency
    )
    async with httpx.AsyncClient(base_url=api_url, timeout=REQUEST_TIMEOUT, limits=limits) as api:
        log(f"warming up with {args.warmup} checkouts of another product")
        await warm_up(api, args.warmup)
        sku = await stock_one_product(api, args.units)
        run = uuid.uuid4().hex[:8]
        attempts = [
            Attempt(n, f"flash-{run}-{n}", order_body(sku, "Flash")) for n in range(args.buyers)
        ]
        gate = asyncio.Semaphore(args.concurrency)

        async def buyer(attempt: Attempt) -> None:
            async with gate:
                await checkout(api, attempt)

        log(f"{args.buyers} buyers for {args.units} units of {sku}, {args.concurrency} at a time")
        started = time.perf_counter()
        await asyncio.gather(*(buyer(attempt) for attempt in attempts))
        wall = time.perf_counter() - started
        log(f"the sale took {wall:.1f} s")

        first_answers = {a.buyer: a.outcome for a in attempts}
        unresolved = await resolve(api, attempts)
        answer = await api.get(f"/v1/inventory/{sku}", headers=PLATFORM)
        inventory = checked(answer, 200, "reading the inventory")

    confirmed = [a for a in attempts if first_answers[a.buyer] == "confirmed"]
    refused = [a for a in attempts if first_answers[a.buyer] == "refused"]
    others: dict[str, int] = {}
    for attempt in attempts:
        if first_answers[attempt.buyer] not in ("confirmed", "refused"):
            label = f"{first_answers[attempt.buyer]} -> {attempt.outcome}"
            others[label] = others.get(label, 0) + 1
    late_confirmed = sum(1 for a in attempts if a.outcome == "confirmed (late)")
    all_confirmed = len(confirmed) + late_confirmed
    oversold = max(all_confirmed - args.units, 0)
    stock_ok = inventory["on_hand"] == args.units and inventory["reserved"] == all_confirmed

    print(
        f"flash sale: {args.buyers} buyers, {args.units} units of one SKU, "
        f"concurrency {args.concurrency}, {os.cpu_count()} CPUs"
    )
    print(f"confirmed      {len(confirmed)}  (201)")
    print(f"refused        {len(refused)}  (409 insufficient_stock)")
    print(f"other errors   {sum(others.values())}")
    for label, count in sorted(others.items()):
        print(f"  {count:6d}  {label}")
    if late_confirmed:
        print(f"  of which confirmed when asked again: {late_confirmed}")
    if unresolved:
        print(f"  still unresolved after {RESOLVE_WITHIN:.0f}s: {len(unresolved)}")
    print(f"oversold       {oversold}  (confirmed {all_confirmed} - units {args.units})")
    unsold = max(args.units - all_confirmed, 0)
    if unsold and refused:
        print(f"unsold         {unsold}  (units left while buyers were refused: refused too early)")
    print(
        f"inventory      on_hand {inventory['on_hand']} (was {args.units}), "
        f"reserved {inventory['reserved']} (confirmed {all_confirmed}), "
        f"available {inventory['available']}: {'ok' if stock_ok else 'MISMATCH'}"
    )
    print(f"latency confirmed  {format_latency(summarize([a.seconds for a in confirmed]))}")
    print(f"latency refused    {format_latency(summarize([a.seconds for a in refused]))}")
    print(f"wall time      {wall:.2f} s  ({args.buyers / wall:.1f} requests/s)")
    print(
        "reproduce      "
        + reproduce_command(
            "bench.flash_sale",
            [
                ("--buyers", args.buyers),
                ("--units", args.units),
                ("--concurrency", args.concurrency),
            ],
        )
    )
    failures = [
        reason
        for reason, failed in (
            ("OVERSOLD", oversold > 0),
            ("the inventory disagrees with the answers", not stock_ok),
            ("some checkouts never got a final answer", bool(unresolved)),
        )
        if failed
    ]
    if failures:
        print("FAILED: " + "; ".join(failures))
        return 1
    return 0


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.flash_sale", description=__doc__)
    parser.add_argument("--buyers", type=int, default=1000, help="concurrent buyers (C)")
    parser.add_argument("--units", type=int, default=100, help="units of the SKU on sale (S)")
    parser.add_argument("--concurrency", type=int, default=200, help="checkouts in flight at once")
    parser.add_argument(
        "--warmup", type=int, default=5, help="checkouts of another product first (untimed)"
    )
    parser.add_argument(
        "--keep-data", action="store_true", help="keep the stack's folder (logs) afterwards"
    )
    args = parser.parse_args(argv)
    if args.buyers < 1 or args.units < 0 or args.concurrency < 1 or args.warmup < 0:
        parser.error("buyers and concurrency must be positive, units and warmup not negative")
    return args


def _stop_on_sigterm(signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    for name in CONFIGURED_SERVICES:
        os.environ.pop(name, None)
    folder = Path(tempfile.mkdtemp(prefix="bench-flash-sale-"))
    stack = DevStack(folder, Ports.free(), overrides={"FULFILLMENT_ENV": "test"})
    try:
        stack.start(log=log)
        return asyncio.run(sale(stack.api_url, args))
    finally:
        stack.stop(log=log)
        if args.keep_data:
            log(f"the stack's folder (logs under logs/) is kept: {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
