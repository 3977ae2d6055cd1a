"""The flash sale's checkouts (bench.flash_sale): one buyer's `Attempt`, sent through the lean
client in the crowd or through httpx (warm-up, and asking again after the sale), how an answer
is judged final or not, and a `Sale`: what one sale's buyers were answered."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from api.request_metrics import app_milliseconds
from bench import log
from bench.lean_http import Pool
from bench.shop import PLATFORM, order_body, set_up_seller

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
