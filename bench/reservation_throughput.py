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

import argparse
import asyncio
import os
import statistics
import sys

from redis.asyncio import BlockingConnectionPool, Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from bench import format_latency, format_ratio, log, ratio, reproduce_command, summarize
from bench.harness import scratch_folder, servers, stop_on_sigterm
from bench.reservation_modes import (
    CONFIRMED,
    MODES,
    REFUSED,
    REFUSED_BY_PG,
    TITLES,
    Attempts,
    ModeRun,
    drive,
)
from bench.reservation_state import Hot, reset, seed
from devstack import free_port, start_postgres, start_redis
from migrations import upgrade
from stores.db import execute_sql, make_engine, make_sessionmaker
from stores.stock_gate import StockGate

MAX_CONCURRENCY = 150  # embedded PostgreSQL takes 200 connections


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


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    stop_on_sigterm()
    with scratch_folder("bench-reservations-") as folder, servers() as started:
        log("starting PostgreSQL and Redis on 127.0.0.1")
        postgres = start_postgres(folder / "postgres", free_port())
        started.add("PostgreSQL", postgres.stop)
        redis = start_redis(folder / "redis", free_port())
        started.add("Redis", redis.stop)
        log("migrating the database")
        upgrade(postgres.url())
        return asyncio.run(measure(postgres.url(), redis.url(), args))


if __name__ == "__main__":
    sys.exit(main())
