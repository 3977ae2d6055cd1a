"""What a simulation invocation runs, from the environment (README.md of this folder)."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class SimConfig:
    seed: int  # the first run's seed; later runs take the next ones
    runs: int | None  # None: as many as the budget allows
    budget_seconds: float  # time spent drawing steps, over all runs (start and drains excluded)
    run_seconds: float  # per run, at most
    max_steps: int | None  # a replay: exactly this many steps per run, whatever the time
    kinds: frozenset[str] | None  # only these step kinds (shrinking)
    concurrency: int  # at most this many steps run at once
    long: bool
    target_orders: int | None  # long mode: stop once this many orders were placed
    log_dir: str
    runs_per_stack: int  # a fresh stack after this many runs (the emulators' state grows)

    @classmethod
    def from_env(cls) -> SimConfig:
        env = os.environ
        long = env.get("SIM_LONG", "") not in ("", "0")
        seed_text = env.get("SIM_SEED")
        seed = int(seed_text) if seed_text else int(time.time()) % 1_000_000
        budget = float(env.get("SIM_BUDGET_SECONDS", "1800" if long else "60"))
        runs_text = env.get("SIM_RUNS")
        runs = int(runs_text) if runs_text else (None if long else 1)
        if seed_text and not runs_text and not long:
            runs = 1
        run_seconds = float(env.get("SIM_RUN_SECONDS", "150" if long else str(budget)))
        if runs:
            run_seconds = min(run_seconds, budget / runs)
        steps_text = env.get("SIM_STEPS")
        kinds_text = env.get("SIM_KINDS")
        target = env.get("SIM_ORDERS")
        return cls(
            seed=seed,
            runs=runs,
            budget_seconds=budget,
            run_seconds=run_seconds,
            max_steps=int(steps_text) if steps_text else None,
            kinds=frozenset(k.strip() for k in kinds_text.split(",") if k.strip())
            if kinds_text
            else None,
            concurrency=max(1, int(env.get("SIM_CONCURRENCY", "6" if long else "4"))),
            long=long,
            target_orders=int(target) if target else None,
            log_dir=env.get("SIM_LOG_DIR", "/tmp/sim-logs"),
            runs_per_stack=max(1, int(env.get("SIM_RUNS_PER_STACK", "3"))),
        )
