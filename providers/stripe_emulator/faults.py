"""Failures the emulator can be told to inject, for reliability tests and chaos in dev."""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass
from typing import Any

MODES = ("error_500", "rate_limit_429", "timeout_before", "timeout_after")


@dataclass(frozen=True)
class FaultPlan:
    rate: float
    modes: tuple[str, ...]
    timeout_seconds: float
    seed: int | None

    @classmethod
    def parse(cls, body: Any) -> FaultPlan:
        if not isinstance(body, dict):
            raise ValueError("body must be a JSON object")
        rate = body.get("rate", 1.0)
        modes = body.get("modes", ["error_500"])
        timeout = body.get("timeout_seconds", 30.0)
        seed = body.get("seed")
        if not isinstance(rate, int | float) or not 0.0 <= rate <= 1.0:
            raise ValueError("rate must be a number between 0 and 1")
        if not isinstance(modes, list) or not modes or any(m not in MODES for m in modes):
            raise ValueError(f"modes must be a non-empty list drawn from {', '.join(MODES)}")
        if not isinstance(timeout, int | float) or timeout < 0:
            raise ValueError("timeout_seconds must be a non-negative number")
        if seed is not None and not isinstance(seed, int):
            raise ValueError("seed must be an integer")
        return cls(float(rate), tuple(modes), float(timeout), seed)

    def describe(self) -> dict[str, Any]:
        return {
            "rate": self.rate,
            "modes": list(self.modes),
            "timeout_seconds": self.timeout_seconds,
            "seed": self.seed,
        }


class FaultInjector:
    """Draws, per API request, whether and how it should fail."""

    def __init__(self) -> None:
        self.plan: FaultPlan | None = None
        self._random = random.Random()
        self._cleared: asyncio.Event | None = None

    def start(self, plan: FaultPlan) -> None:
        self.plan = plan
        # A seed makes a failing run reproducible: the same requests fail the same way.
        self._random = random.Random(plan.seed)

    def stop(self) -> None:
        self.plan = None
        # Requests held in an emulated timeout answer at once, so stopping faults also
        # lets a test (or a server shutdown) proceed without waiting out the sleep.
        if self._cleared is not None:
            self._cleared.set()
            self._cleared = None

    def draw(self) -> str | None:
        plan = self.plan
        if plan is None or plan.rate <= 0.0 or self._random.random() >= plan.rate:
            return None
        return self._random.choice(plan.modes)

    async def hang(self) -> None:
        if self.plan is None:
            return
        if self._cleared is None:
            self._cleared = asyncio.Event()
        try:
            await asyncio.wait_for(self._cleared.wait(), timeout=self.plan.timeout_seconds)
        except TimeoutError:
            pass
