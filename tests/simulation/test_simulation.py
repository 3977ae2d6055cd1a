"""The simulation's entry point: runs seeds against the real stack until the budget is spent,
prints a summary, and fails with every violation's seed and the command that replays it."""

from __future__ import annotations

import asyncio
import shutil
import sys
import time
from collections import Counter
from pathlib import Path

from devstack.stack import DevStack
from tests.simulation.config import SimConfig
from tests.simulation.run import RunReport, run_once
from tests.simulation.stacks import SimStacks


def say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


async def test_whatever_happens_every_order_ends_with_money_and_stock_that_add_up(
    sim_stacks: SimStacks,
) -> None:
    config = SimConfig.from_env()
    started = time.monotonic()
    reports: list[RunReport] = []
    seed = config.seed
    while True:
        if len(reports) % config.runs_per_stack == 0:
            stack, relay = await asyncio.to_thread(sim_stacks.fresh)
        report = await run_once(stack, relay, config, seed)
        reports.append(report)
        say(
            f"sim run seed={report.seed}: {report.steps} steps, {report.orders} orders "
            f"({report.rejected} refused), {len(report.violations)} violation(s), "
            f"{report.seconds:.0f}s, log {report.log_path}"
        )
        for violation in report.violations:
            say(f"  {violation}")
        if report.violations:
            say(f"  replay: {report.replay_command()}")
            say(f"  the stack's logs: {keep_stack_logs(stack, config, report.seed)}")
        seed += 1
        if config.runs is not None and len(reports) >= config.runs:
            break
        if config.runs is None and time.monotonic() - started >= config.budget_seconds:
            break
        orders = sum(r.orders for r in reports)
        if config.target_orders is not None and orders >= config.target_orders:
            break
    say(summary(reports, time.monotonic() - started))
    failed = [r for r in reports if r.violations]
    assert not failed, "\n".join(
        f"seed {r.seed}: {len(r.violations)} violation(s), first: {r.violations[0]}\n"
        f"  replay: {r.replay_command()}  (log: {r.log_path})"
        for r in failed
    )


def keep_stack_logs(stack: DevStack, config: SimConfig, seed: int) -> Path:
    """A copy of the stack's server logs (API, worker, emulators) beside the run's log: the
    stack's folder is removed when the stack is replaced, and a violation that the run's own
    log cannot explain (a transport error, say) is explained there."""
    target = Path(config.log_dir) / f"stack-logs-seed{seed}"
    shutil.copytree(stack.data_dir / "logs", target, dirs_exist_ok=True)
    return target


def summary(reports: list[RunReport], seconds: float) -> str:
    rules = Counter(v.rule for r in reports for v in r.violations)
    lines = [
        "simulation summary: "
        f"runs={len(reports)} orders={sum(r.orders for r in reports)} "
        f"refused={sum(r.rejected for r in reports)} steps={sum(r.steps for r in reports)} "
        f"violations={sum(len(r.violations) for r in reports)} "
        f"(runs with violations: {sum(1 for r in reports if r.violations)}) in {seconds:.0f}s",
    ]
    lines += [f"  {n} x {rule}" for rule, n in rules.most_common()]
    return "\n".join(lines)
