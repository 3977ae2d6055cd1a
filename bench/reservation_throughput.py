"""Reservation throughput on one hot SKU, three ways side by side in one run (issue #4).

Starts an embedded PostgreSQL (migrated) and Redis on free ports of 127.0.0.1, seeds one
vendor, warehouse and product holding `--units` units, then makes `--attempts` reservation
attempts of one unit each, at most `--concurrency` at a time, in each mode:

  pg-only   `InventoryActivities.reserve` for every attempt: PostgreSQL decides them all.
  gated     `StockGate.admit` first; only admitted attempts reach `reserve` (which publishes
            the new count to the gate, as the worker does), then `settle`: the API's path.
  bare      `StockGate.admit` alone: the Redis script's counting and nothing else, the
            limit the gated mode can approach.

Stock, reservations, audit rows and Redis are reset between modes, and every mode has an
untimed warm-up first. Prints attempts per second, what each mode confirmed (it must be
min(attempts, units): nothing oversold), latency percentiles and the ratios gated / pg-only
and bare / gated. Exits 1 if a mode confirmed more than there was. Servers stop in a finally.

    .venv/bin/python -m bench.reservation_throughput --attempts 2000 --units 200
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
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

from redis.asyncio import BlockingConnectionPool, Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.exceptions import ApplicationError

from activities.inventory import InventoryActivities
from bench import format_latency, format_ratio, log, ratio, reproduce_command, summarize
from devstack import free_port, start_postgres, start_redis
from migrations import upgrade
from models.messages.checkout import PricedLineMsg, ReserveRequest
from stores.db import execute_sql, make_engine, make_sessionmaker
from stores.stock_changes import StockAnnouncer
from stores.stock_gate import GateLine, StockGate

CONFIRMED, REFUSED, REFUSED_BY_PG = "confirmed", "refused", "refused by PostgreSQL"
MODES = ("pg-only", "gated", "bare")
TITLES = {
    "pg-only": "PostgreSQL only",
    "gated": "Redis-gated",
    "bare": "bare Redis script",
}
# Longer than any mode runs: an unsettled hold (the bare mode's) must not expire mid-run.
HOLD_SECONDS = 3600.0
PRICE_CENTS = 1000
MAX_CONCURRENCY = 150  # embedded PostgreSQL takes 200 connections


@dataclass
class Hot:
    """The one hot SKU and its vendor."""

    sku: str
    vendor: str
    warehouse: str


@dataclass
class ModeRun:
    mode: str
    attempts: int
    seconds: float
    outcomes: Counter[str]
    latencies: list[float] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.attempts / self.seconds if self.seconds > 0 else 0.0


async def seed(sessions: async_sessionmaker[AsyncSession], units: int) -> Hot:
    suffix = uuid.uuid4().hex[:8]
    hot = Hot(sku=f"HOT-{suffix}".upper(), vendor=f"ven_{suffix}", warehouse=f"wh_{suffix}")
    statements = [
        (
            "INSERT INTO vendor (id, name, email, commission_bps, ship_sla_seconds, created_at)"
            " VALUES (:vendor, 'Hot vendor', 'hot@example.com', 1000, 3600, now())"
        ),
        (
            "INSERT INTO product (sku, vendor_id, title, price_cents, currency, weight_grams,"
            " created_at) VALUES (:sku, :vendor, 'Hot item', :price, 'usd', 100, now())"
        ),
        (
            "INSERT INTO warehouse (id, vendor_id, name, postal_code, country, latitude,"
            " longitude, created_at)"
            " VALUES (:wh, :vendor, 'Main', '10001', 'US', 40.75, -73.99, now())"
        ),
        (
            "INSERT INTO stock_level (sku, warehouse_id, on_hand, reserved, updated_at)"
            " VALUES (:sku, :wh, :units, 0, now())"
        ),
    ]
    params = {
        "vendor": hot.vendor,
        "sku": hot.sku,
        "wh": hot.warehouse,
        "units": units,
        "price": PRICE_CENTS,
    }
    async with sessions() as session, session.begin():
        for statement in statements:
            await execute_sql(session, text(statement), params)
    return hot


async def reset(
    engine: AsyncEngine,
    sessions: async_sessionmaker[AsyncSession],
    redis: Redis,
    gate: StockGate,
    hot: Hot,
    units: int,
) -> None:
    """Back to `units` on the shelf, nothing held, no audit rows, Redis empty, the gate
    rebuilt from PostgreSQL: every mode starts from the same state."""
    async with sessions() as session, session.begin():
        params = {"sku": hot.sku, "units": units}
        await execute_sql(session, text("DELETE FROM reservation WHERE sku = :sku"), params)
        await execute_sql(session, text("DELETE FROM stock_movement WHERE sku = :sku"), params)
        await execute_sql(
            session,
            text(
                "UPDATE stock_level SET on_hand = :units, reserved = 0, updated_at = now()"
                " WHERE sku = :sku"
            ),
            params,
        )
        version = (
            await execute_sql(
                session,
                text(
                    "UPDATE product SET stock_version = stock_version + 1 WHERE sku = :sku"
                    " RETURNING stock_version"
                ),
                params,
            )
        ).scalar_one()
    # Dead rows left by the previous mode would slow the next one: clear them out.
    async with engine.connect() as connection:
        autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
        await autocommit.execute(
            text("VACUUM ANALYZE stock_level, product, reservation, stock_movement")
        )
    await redis.flushdb()
    await gate.rebuild({hot.sku: (units, int(version))})


async def drive(
    mode: str, attempts: int, concurrency: int, attempt: Callable[[int], Awaitable[str]]
) -> ModeRun:
    """`attempts` calls of `attempt`, `concurrency` at a time, timed together and each."""
    numbers = iter(range(attempts))
    outcomes: Counter[str] = Counter()
    latencies: list[float] = []

    async def worker() -> None:
        for number in numbers:  # shared: each number is taken by one worker
            started = time.perf_counter()
            outcome = await attempt(number)
            latencies.append(time.perf_counter() - started)
            outcomes[outcome] += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(min(concurrency, attempts))))
    return ModeRun(mode, attempts, time.perf_counter() - started, outcomes, latencies)


class Attempts:
    """One reservation attempt per mode, for one unit of the hot SKU."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], redis: Redis, gate: StockGate, hot: Hot
    ) -> None:
        self.hot = hot
        self.gate = gate
        # PostgreSQL only: nobody to tell. Gated: the worker's wiring, every commit published.
        self.plain = InventoryActivities(sessions, StockAnnouncer(None, None))
        self.announced = InventoryActivities(sessions, StockAnnouncer(redis, gate))
        self.run = uuid.uuid4().hex[:8]

    def _request(self, order_id: str) -> ReserveRequest:
        return ReserveRequest(
            order_id=order_id,
            lines=[
                PricedLineMsg(
                    line_no=1,
                    sku=self.hot.sku,
                    vendor_id=self.hot.vendor,
                    quantity=1,
                    unit_price_cents=PRICE_CENTS,
                    line_total_cents=PRICE_CENTS,
                )
            ],
            latitude=40.7,
            longitude=-74.0,
        )

    async def _reserve(self, inventory: InventoryActivities, order_id: str) -> bool:
        try:
            await inventory.reserve(self._request(order_id))
        except ApplicationError as refused:
            if refused.type != "insufficient_stock":
                raise
            return False
        return True

    def for_mode(self, mode: str, tag: str) -> Callable[[int], Awaitable[str]]:
        prefix = f"{mode}-{tag}-{self.run}"

        async def pg_only(number: int) -> str:
            ok = await self._reserve(self.plain, f"{prefix}-{number}")
            return CONFIRMED if ok else REFUSED

        async def gated(number: int) -> str:
            order = f"{prefix}-{number}"
            admission = await self.gate.admit(order, [GateLine(self.hot.sku, 1)], HOLD_SECONDS)
            if not admission.admitted:
                return REFUSED
            try:
                ok = await self._reserve(self.announced, order)
            finally:
                await self.gate.settle(order)
            return CONFIRMED if ok else REFUSED_BY_PG

        async def bare(number: int) -> str:
            order = f"{prefix}-{number}"
            admission = await self.gate.admit(order, [GateLine(self.hot.sku, 1)], HOLD_SECONDS)
            return CONFIRMED if admission.admitted else REFUSED

        return {"pg-only": pg_only, "gated": gated, "bare": bare}[mode]


async def check(
    sessions: async_sessionmaker[AsyncSession], gate: StockGate, hot: Hot, run: ModeRun, units: int
) -> list[str]:
    """What is wrong with a mode's result: oversold, or stores disagreeing with the answers."""
    problems: list[str] = []
    confirmed = run.outcomes[CONFIRMED]
    if confirmed > units:
        problems.append(f"{run.mode}: OVERSOLD, {confirmed} confirmed for {units} units")
    if run.mode == "bare":
        left = await gate.available(hot.sku)
        if left != units - confirmed:
            problems.append(f"bare: the gate shows {left} left, expected {units - confirmed}")
        return problems
    async with sessions() as session:
        on_hand, reserved = (
            await execute_sql(
                session,
                text("SELECT sum(on_hand), sum(reserved) FROM stock_level WHERE sku = :sku"),
                {"sku": hot.sku},
            )
        ).one()
        held = (
            await execute_sql(
                session,
                text(
                    "SELECT coalesce(sum(quantity), 0) FROM reservation"
                    " WHERE sku = :sku AND status = 'held'"
                ),
                {"sku": hot.sku},
            )
        ).scalar_one()
    if (int(on_hand), int(reserved), int(held)) != (units, confirmed, confirmed):
        problems.append(
            f"{run.mode}: on_hand {on_hand}, reserved {reserved}, held {held};"
            f" expected {units}, {confirmed}, {confirmed}"
        )
    return problems


async def measure(database_url: str, redis_url: str, args: argparse.Namespace) -> int:
    engine = make_engine(database_url, pool_size=args.concurrency)
    redis = Redis.from_pool(
        BlockingConnectionPool.from_url(
            redis_url, max_connections=max(50, args.concurrency), timeout=10
        )
    )
    try:
        sessions = make_sessionmaker(engine)
        gate = StockGate(redis, namespace="bench")
        hot = await seed(sessions, args.units)
        attempts = Attempts(sessions, redis, gate, hot)
        runs: dict[str, list[ModeRun]] = {mode: [] for mode in MODES}
        problems: list[str] = []
        for round_no in range(1, args.rounds + 1):
            for mode in MODES:
                if args.warmup:
                    await reset(engine, sessions, redis, gate, hot, args.units)
                    await drive(
                        mode,
                        args.warmup,
                        args.concurrency,
                        attempts.for_mode(mode, f"w{round_no}"),
                    )
                await reset(engine, sessions, redis, gate, hot, args.units)
                run = await drive(
                    mode,
                    args.attempts,
                    args.concurrency,
                    attempts.for_mode(mode, f"r{round_no}"),
                )
                problems += await check(sessions, gate, hot, run, args.units)
                runs[mode].append(run)
                log(f"round {round_no} {mode}: {run.rate:.0f} attempts/s, {dict(run.outcomes)}")
    finally:
        await redis.aclose()
        await engine.dispose()
    return report(args, runs, problems)


def report(args: argparse.Namespace, runs: dict[str, list[ModeRun]], problems: list[str]) -> int:
    expected = min(args.attempts, args.units)
    print(
        f"reservation throughput: one hot SKU, {args.attempts} attempts of 1 unit for"
        f" {args.units} units, concurrency {args.concurrency}, {args.rounds} round(s),"
        f" {os.cpu_count()} CPUs"
    )
    rates = {mode: statistics.median(r.rate for r in runs[mode]) for mode in MODES}
    header = f"{'mode':<20} {'attempts/s':>11} {'confirmed':>10} {'refused':>8}  latency"
    print(header)
    for mode in MODES:
        last = runs[mode][-1]
        confirmed = [r.outcomes[CONFIRMED] for r in runs[mode]]
        refused = [r.outcomes[REFUSED] + r.outcomes[REFUSED_BY_PG] for r in runs[mode]]
        print(
            f"{TITLES[mode]:<20} {rates[mode]:>11.0f} {'/'.join(map(str, confirmed)):>10}"
            f" {'/'.join(map(str, refused)):>8}  {format_latency(summarize(last.latencies))}"
        )
        if args.rounds > 1:
            print(f"{'':<20} rounds: " + ", ".join(f"{r.rate:.0f}" for r in runs[mode]))
    by_pg = [r.outcomes[REFUSED_BY_PG] for r in runs["gated"]]
    print(
        f"gated: refused at the gate {[r.outcomes[REFUSED] for r in runs['gated']]},"
        f" admitted then refused by PostgreSQL {by_pg}"
    )
    print(f"confirmed must be {expected} in every mode (min(attempts, units))")
    print(
        f"ratios: gated / pg-only = {format_ratio(ratio(rates['gated'], rates['pg-only']))},"
        f" bare / gated = {format_ratio(ratio(rates['bare'], rates['gated']))}"
        f" (attempts/s{', medians of the rounds' if args.rounds > 1 else ''})"
    )
    options: list[tuple[str, object]] = [
        ("--attempts", args.attempts),
        ("--units", args.units),
        ("--concurrency", args.concurrency),
    ]
    if args.rounds != 1:
        options.append(("--rounds", args.rounds))
    print("reproduce: " + reproduce_command("bench.reservation_throughput", options))
    undersold = [
        f"{mode} confirmed {r.outcomes[CONFIRMED]}"
        for mode in MODES
        for r in runs[mode]
        if r.outcomes[CONFIRMED] < expected
    ]
    if undersold:
        print("undersold (refused too early, not a safety failure): " + ", ".join(undersold))
    if problems:
        print("FAILED: " + "; ".join(problems))
        return 1
    return 0


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.reservation_throughput",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--attempts", type=int, default=2000, help="attempts per mode")
    parser.add_argument("--units", type=int, default=200, help="units of the hot SKU")
    parser.add_argument("--concurrency", type=int, default=50, help="attempts in flight")
    parser.add_argument("--rounds", type=int, default=1, help="run the three modes this often")
    parser.add_argument("--warmup", type=int, default=100, help="untimed attempts before each mode")
    args = parser.parse_args(argv)
    if args.attempts < 1 or args.units < 0 or args.rounds < 1 or args.warmup < 0:
        parser.error("attempts and rounds must be positive, units and warmup not negative")
    if not 1 <= args.concurrency <= MAX_CONCURRENCY:
        parser.error(f"concurrency must be between 1 and {MAX_CONCURRENCY}")
    return args


def _stop_on_sigterm(signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    folder = Path(tempfile.mkdtemp(prefix="bench-reservations-"))
    stops: list[tuple[str, Callable[[], object]]] = []
    try:
        log("starting PostgreSQL and Redis on 127.0.0.1")
        postgres = start_postgres(folder / "postgres", free_port())
        stops.append(("PostgreSQL", postgres.stop))
        redis = start_redis(folder / "redis", free_port())
        stops.append(("Redis", redis.stop))
        log("migrating the database")
        upgrade(postgres.url())
        return asyncio.run(measure(postgres.url(), redis.url(), args))
    finally:
        while stops:
            name, stop = stops.pop()
            log(f"stopping {name}")
            try:
                stop()
            except Exception as error:  # keep stopping the other
                log(f"could not stop {name}: {error}")
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
