"""Failures an emulator (Stripe's or Shippo's) can be told to inject, for reliability tests
and chaos in dev.

A plan fails a share (``rate``) of API requests in the given ``modes``. It can be narrowed:
Shippo's label purchase has no idempotency key, so a client de-duplicates by listing first, and
a test must be able to lose only the purchase's answer (``"methods": ["POST"]``,
``"paths": ["/transactions"]``) while the list still answers; ``count`` stops the faults after
that many.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass
from typing import Any

MODES = ("error_500", "rate_limit_429", "timeout_before", "timeout_after")
_METHODS = ("GET", "POST")


@dataclass(frozen=True)
class FaultPlan:
    rate: float
    modes: tuple[str, ...]
    timeout_seconds: float
    seed: int | None
    methods: tuple[str, ...] | None
    paths: tuple[str, ...] | None
    count: int | None

    @classmethod
    def parse(cls, body: Any) -> FaultPlan:
        if not isinstance(body, dict):
            raise ValueError("body must be a JSON object")
        rate = body.get("rate", 1.0)
        modes = body.get("modes", ["error_500"])
        timeout = body.get("timeout_seconds", 30.0)
        seed = body.get("seed")
        methods = body.get("methods")
        paths = body.get("paths")
        count = body.get("count")
        if not _is_number(rate) or not 0.0 <= rate <= 1.0:
            raise ValueError("rate must be a number between 0 and 1")
        if not isinstance(modes, list) or not modes or any(m not in MODES for m in modes):
            raise ValueError(f"modes must be a non-empty list drawn from {', '.join(MODES)}")
        if not _is_number(timeout) or timeout < 0:
            raise ValueError("timeout_seconds must be a non-negative number")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise ValueError("seed must be an integer")
        if methods is not None and (
            not isinstance(methods, list) or any(str(m).upper() not in _METHODS for m in methods)
        ):
            raise ValueError(f"methods must be a list drawn from {', '.join(_METHODS)}")
        if paths is not None and (
            not isinstance(paths, list)
            or any(not isinstance(p, str) or not p.startswith("/") for p in paths)
        ):
            raise ValueError("paths must be a list of path prefixes such as /transactions")
        if count is not None and (
            isinstance(count, bool) or not isinstance(count, int) or count < 1
        ):
            raise ValueError("count must be a positive integer")
        return cls(
            float(rate),
            tuple(modes),
            float(timeout),
            seed,
            tuple(str(m).upper() for m in methods) if methods is not None else None,
            tuple(paths) if paths is not None else None,
            count,
        )

    def applies_to(self, method: str, path: str) -> bool:
        if self.methods is not None and method.upper() not in self.methods:
            return False
        return self.paths is None or any(path.startswith(prefix) for prefix in self.paths)

    def describe(self) -> dict[str, Any]:
        return {
            "rate": self.rate,
            "modes": list(self.modes),
            "timeout_seconds": self.timeout_seconds,
            "seed": self.seed,
            "methods": list(self.methods) if self.methods is not None else None,
            "paths": list(self.paths) if self.paths is not None else None,
            "count": self.count,
        }


@dataclass(frozen=True)
class Fault:
    mode: str
    timeout_seconds: float


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


class FaultInjector:
    """Draws, per API request, whether and how it should fail."""

    def __init__(self) -> None:
        self.plan: FaultPlan | None = None
        self.injected = 0
        self._random = random.Random()
        self._cleared: asyncio.Event | None = None

    def start(self, plan: FaultPlan) -> None:
        self.plan = plan
        self.injected = 0
        # A seed makes a failing run reproducible: the same requests fail the same way.
        self._random = random.Random(plan.seed)

    def stop(self) -> None:
        self.plan = None
        # Requests held in an emulated timeout answer at once, so clearing faults lets a test
        # (or a server shutdown) go on without waiting out the sleep.
        if self._cleared is not None:
            self._cleared.set()
            self._cleared = None

    def describe(self) -> dict[str, Any]:
        if self.plan is None:
            return {"rate": 0.0, "modes": [], "injected": self.injected}
        return {**self.plan.describe(), "injected": self.injected}

    def draw(self, method: str, path: str) -> Fault | None:
        plan = self.plan
        if plan is None or plan.rate <= 0.0 or not plan.applies_to(method, path):
            return None
        if self._random.random() >= plan.rate:
            return None
        self.injected += 1
        if plan.count is not None and self.injected >= plan.count:
            # That was the last one asked for: later requests go through.
            self.plan = None
        return Fault(self._random.choice(plan.modes), plan.timeout_seconds)

    async def hang(self, timeout_seconds: float) -> None:
        if self._cleared is None:
            self._cleared = asyncio.Event()
        try:
            await asyncio.wait_for(self._cleared.wait(), timeout=timeout_seconds)
        except TimeoutError:
            pass
