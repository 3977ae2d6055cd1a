"""The reservation benchmark's three modes (bench.reservation_throughput): one attempt of each
(PostgreSQL only, Redis-gated, the bare Redis script), and a mode's attempts driven at a given
concurrency and timed."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.exceptions import ApplicationError

from activities.inventory import InventoryActivities
from bench.reservation_state import PRICE_CENTS, Hot
from models.messages.checkout import PricedLineMsg, ReserveRequest
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
