"""The Redis admission gate in front of checkout (issue #4): a sold-out SKU is refused in
milliseconds, before any workflow starts. PostgreSQL stays the arbiter: the gate only
refuses, and when it cannot answer (Redis down, data lost) the checkout goes through to the
saga, whose reservation decides, while the gate is rebuilt."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from fastapi import FastAPI
from prometheus_client import Counter
from redis.exceptions import RedisError

from api.errors import Problem
from api.known_orders import KnownOrders
from domain.errors import ErrorCode
from models.views import OrderLineIn
from stores.stock_changes import rebuild_gate
from stores.stock_gate import GateLine, StockGate

log = logging.getLogger("fulfillment.admission")

# Long enough to cover a checkout; a crashed one's hold stops counting after this.
HOLD_SECONDS = 60.0
# Refusals the gate stands by (a known order's retry is let through, never counted): by
# problem code, `insufficient_stock` being "sold out".
GATE_REFUSALS = Counter(
    "fulfillment_gate_refusals_total", "Checkouts the Redis gate refused", ["reason"]
)
# A refusal looks the key up in the order store for at most this long (a retry of an order
# the gate no longer remembers); past it the gate's refusal stands.
REFUSAL_LOOKUP_SECONDS = 0.2


async def admit_or_refuse(
    app: FastAPI, order_id: str, lines: Sequence[OrderLineIn], fingerprint: str
) -> bool:
    """`admit`, except that an order that exists is never refused: past the gate's memory
    (or after Redis lost it) a retry of a known key goes on to its saga. The store read is
    bounded: with PostgreSQL down or slow the gate's refusal stands. True when a hold was
    taken that `settle` must end."""
    try:
        return await admit(app, order_id, lines, fingerprint)
    except Problem as refusal:
        known: KnownOrders = app.state.known_orders
        if not await known.exists(order_id, within=REFUSAL_LOOKUP_SECONDS):
            GATE_REFUSALS.labels(refusal.code.value).inc()
            raise
        return False


async def admit(
    app: FastAPI, order_id: str, lines: Sequence[OrderLineIn], fingerprint: str
) -> bool:
    """Refuse (Problem insufficient_stock) what the gate knows is sold out; True when this
    request took a hold that `settle` must end."""
    gate: StockGate = app.state.gate
    try:
        admission = await gate.admit(
            order_id,
            [GateLine(line.sku, line.quantity) for line in lines],
            HOLD_SECONDS,
            fingerprint=fingerprint,
        )
        # A SKU the gate has no count for: rebuilt only if the gate lost its data, not for
        # every request naming a SKU that does not exist (the catalog check refuses those).
        lost = not admission.known and not await gate.is_built()
    except RedisError:
        log.warning("the admission gate is unreachable; PostgreSQL decides", exc_info=True)
        return False
    if lost:
        start_rebuild(app)
    if admission.reused:
        raise Problem(
            ErrorCode.IDEMPOTENCY_KEY_REUSED, "this Idempotency-Key was used for another order"
        )
    if not admission.admitted:
        raise Problem(
            ErrorCode.INSUFFICIENT_STOCK,
            "not enough stock",
            items=[
                {"sku": s.sku, "requested": s.requested, "available": s.available}
                for s in admission.shortages
            ],
        )
    return admission.held


async def settle(app: FastAPI, order_id: str) -> None:
    """The saga answered: its own stock change now counts, not the tentative hold."""
    try:
        await app.state.gate.settle(order_id)
    except RedisError:
        log.warning("could not settle a gate hold (it expires by itself)", exc_info=True)


def start_rebuild(app: FastAPI) -> None:
    if app.state.gate_rebuild.locked():
        return
    task = asyncio.get_running_loop().create_task(rebuild(app))
    app.state.background.add(task)
    task.add_done_callback(app.state.background.discard)


async def rebuild(app: FastAPI) -> None:
    async with app.state.gate_rebuild:
        try:
            async with app.state.sessions() as session:
                count = await rebuild_gate(session, app.state.gate)
            log.info("admission gate rebuilt from PostgreSQL (%d SKUs)", count)
        except Exception:
            log.warning("could not rebuild the admission gate", exc_info=True)
