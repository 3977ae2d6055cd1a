"""The in-flight benchmark's orders (bench.in_flight): the seller its orders buy from, and
checkouts placed round-robin over its products, either a counted batch or a fill that tops
up what was not confirmed and logs its progress."""

from __future__ import annotations

import asyncio
import itertools
import math
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import httpx

from bench import log, progress_bar
from bench.shop import Placed, checkout
from bench.shop import set_up_seller as set_up_seller_of

PROGRESS_EVERY = 1000
# A fill tops up what failed this many times at most (a 504 may still confirm later).
FILL_ROUNDS = 3


# ---------------------------------------------------------------------------------------
# Pure helpers (tests/tooling/test_bench_in_flight.py)


def crossed(before: int, after: int, every: int) -> list[int]:
    """The multiples of `every` in (before, after]: progress marks a count went past."""
    if every <= 0:
        return []
    first = before // every + 1
    return [n * every for n in range(first, after // every + 1)]


def stock_per_product(orders: int, products: int) -> int:
    """Units per product so that `orders` one-unit orders spread round-robin over `products`
    never run out, with room for retried and top-up orders."""
    return 2 * math.ceil(orders / products) + 100


# ---------------------------------------------------------------------------------------
# Setup and checkouts


async def set_up_seller(api: httpx.AsyncClient, products: int, units: int) -> list[str]:
    """One vendor (no webhook URL, the default ship SLA), one warehouse, `products` products
    with `units` each: their SKUs. Orders spread over them, so that no single stock row's lock
    paces the fill."""
    _, skus = await set_up_seller_of(api, "In flight", products=products, units=units)
    return skus


@dataclass
class Load:
    """Orders placed by one call of `place`."""

    placed: list[Placed] = field(default_factory=list)
    wall: float = 0.0

    @property
    def confirmed(self) -> int:
        return sum(1 for order in self.placed if order.ok)

    def failures(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for order in self.placed:
            if not order.ok:
                counts[order.outcome] = counts.get(order.outcome, 0) + 1
        return counts


class Orders:
    """Places checkouts, round-robin over the SKUs, each with its own key."""

    def __init__(self, api: httpx.AsyncClient, skus: Sequence[str], concurrency: int) -> None:
        self.api, self.skus, self.concurrency = api, list(skus), concurrency
        self.run = uuid.uuid4().hex[:8]
        self._sequence = itertools.count()

    async def place(
        self, count: int, tag: str, progress: Callable[[int], None] | None = None
    ) -> Load:
        """`count` checkouts, at most `concurrency` at a time; `progress(confirmed)` after
        each confirmation."""
        load = Load()
        remaining = iter(range(count))
        confirmed = 0  # counted as they come: Load.confirmed walks every order

        async def lane() -> None:
            nonlocal confirmed
            for _ in remaining:  # shared by the lanes: each number is taken once
                n = next(self._sequence)
                placed = Placed(f"flight-{self.run}-{tag}-{n}")
                load.placed.append(placed)
                await checkout(self.api, self.skus[n % len(self.skus)], placed, "Flight")
                if placed.ok:
                    confirmed += 1
                    if progress is not None:
                        progress(confirmed)

        started = time.perf_counter()
        await asyncio.gather(*(lane() for _ in range(min(self.concurrency, count))))
        load.wall = time.perf_counter() - started
        return load

    async def fill(self, count: int, tag: str, already: int) -> Load:
        """Orders until `count` more are confirmed, progress logged every PROGRESS_EVERY
        orders awaiting shipment (`already` of them before); what failed is topped up, at
        most FILL_ROUNDS times."""
        total = Load()
        shown = already
        earlier = 0  # confirmed by the rounds before this one

        def progress(confirmed: int) -> None:
            nonlocal shown
            now = already + earlier + confirmed
            bar(now - already)
            for mark in crossed(shown, now, PROGRESS_EVERY):
                rate = (now - already) / max(time.perf_counter() - started, 1e-9)
                log(f"{mark} orders awaiting shipment ({rate:.1f} orders/s)")
            shown = max(shown, now)

        started = time.perf_counter()
        with progress_bar(f"{tag}: orders awaiting shipment", count) as bar:
            for _ in range(FILL_ROUNDS):
                if earlier >= count:
                    break
                load = await self.place(count - earlier, tag, progress)
                total.placed.extend(load.placed)
                failures = load.failures()
                if failures:
                    log(f"{tag}: {sum(failures.values())} not confirmed: {failures}")
                if load.confirmed == 0:
                    break  # nothing gets through: topping up would only repeat that
                earlier += load.confirmed
        total.wall = time.perf_counter() - started
        return total
