"""The one way stock levels change: audited, versioned, and watched for low stock.

The API (PUT, adjustments) and the inventory activities (reserve, release, commit) both go
through `change_level`, inside their own transaction, with the stock_level rows already
locked in (sku, warehouse) order; product rows are locked after them, also by sku, so every
writer takes locks in one order.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from redis.asyncio import Redis
from sqlalchemy import text
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.errors import ValidationFailed
from stores.db import execute_sql

if TYPE_CHECKING:
    from stores.stock_gate import StockGate

log = logging.getLogger(__name__)

# The largest level the 32-bit columns hold. The UPDATE skips a change past it (overflowing
# would be a DataError: a 500, or an activity retried for ever) and StockLimitExceeded says so.
LEVEL_LIMIT = 2**31 - 1

_CHANGE = text(
    "UPDATE stock_level SET on_hand = on_hand + :d_on_hand, reserved = reserved + :d_reserved,"
    " updated_at = now() WHERE sku = :sku AND warehouse_id = :wh"
    " AND on_hand::bigint + :d_on_hand <= :limit AND reserved::bigint + :d_reserved <= :limit"
    " RETURNING on_hand - :d_on_hand AS on_hand_before, on_hand,"
    " reserved - :d_reserved AS reserved_before, reserved"
)
_LEVEL = text("SELECT on_hand, reserved FROM stock_level WHERE sku = :sku AND warehouse_id = :wh")
_VERSION = text(
    "UPDATE product SET stock_version = stock_version + 1 WHERE sku = :sku"
    " RETURNING stock_version, low_stock_threshold, vendor_id"
)
_AVAILABLE = text("SELECT coalesce(sum(on_hand - reserved), 0) FROM stock_level WHERE sku = :sku")
_AUDIT = text(
    "INSERT INTO stock_movement (sku, warehouse_id, on_hand_delta, reserved_delta,"
    " on_hand_before, on_hand_after, reserved_before, reserved_after, reason, actor,"
    " order_id, low_stock, at) VALUES (:sku, :wh, :d_on_hand, :d_reserved, :on_hand_before,"
    " :on_hand, :reserved_before, :reserved, :reason, :actor, :order_id, :low, now())"
)


class StockLimitExceeded(ValidationFailed):
    """A change would take a stock level past what its columns hold; nothing is changed."""


@dataclass(frozen=True)
class StockChange:
    """What a committed change means outside PostgreSQL: the gate's new count for the SKU,
    and whether the vendor must hear that it runs low."""

    sku: str
    vendor_id: str
    available: int
    version: int
    low_stock: bool
    on_hand: int
    reserved: int


async def change_level(
    session: AsyncSession,
    sku: str,
    warehouse_id: str,
    *,
    on_hand_delta: int = 0,
    reserved_delta: int = 0,
    reason: str,
    actor: str,
    order_id: str | None = None,
) -> StockChange:
    """Apply one change; the database's CHECK constraints refuse on_hand below reserved, and
    StockLimitExceeded refuses a level past LEVEL_LIMIT."""
    params = {
        "sku": sku,
        "wh": warehouse_id,
        "d_on_hand": on_hand_delta,
        "d_reserved": reserved_delta,
    }
    level = (await execute_sql(session, _CHANGE, {**params, "limit": LEVEL_LIMIT})).one_or_none()
    if level is None:
        current = (await execute_sql(session, _LEVEL, params)).one()
        name, value = (
            ("on_hand", current.on_hand + on_hand_delta)
            if current.on_hand + on_hand_delta > LEVEL_LIMIT
            else ("reserved", current.reserved + reserved_delta)
        )
        raise StockLimitExceeded(
            f"{name} would be {value}, above the limit of {LEVEL_LIMIT}",
            field=name,
            limit=LEVEL_LIMIT,
        )
    product = (await execute_sql(session, _VERSION, {"sku": sku})).one()
    version, threshold = product.stock_version, product.low_stock_threshold
    available = int((await execute_sql(session, _AVAILABLE, {"sku": sku})).scalar_one())
    before = available - (on_hand_delta - reserved_delta)
    low = threshold is not None and before >= threshold > available
    await execute_sql(
        session,
        _AUDIT,
        {
            **params,
            "on_hand_before": level.on_hand_before,
            "on_hand": level.on_hand,
            "reserved_before": level.reserved_before,
            "reserved": level.reserved,
            "reason": reason[:200],
            "actor": actor[:80],
            "order_id": order_id,
            "low": low,
        },
    )
    return StockChange(
        sku=sku,
        vendor_id=product.vendor_id,
        available=available,
        version=int(version),
        low_stock=low,
        on_hand=int(level.on_hand),
        reserved=int(level.reserved),
    )


@dataclass(frozen=True)
class LevelTarget:
    """A level to set to `on_hand`, from `on_hand_before` (read with its row locked)."""

    sku: str
    warehouse_id: str
    on_hand_before: int
    reserved: int
    on_hand: int
    reason: str


_LOCK_PRODUCTS = text(
    "SELECT sku FROM product WHERE sku = ANY(CAST(:skus AS text[])) ORDER BY sku FOR UPDATE"
)
_SET_LEVELS = text(
    "UPDATE stock_level l SET on_hand = t.on_hand, updated_at = now()"
    " FROM unnest(CAST(:skus AS text[]), CAST(:whs AS text[]), CAST(:on_hand AS integer[]))"
    " AS t(sku, wh, on_hand) WHERE l.sku = t.sku AND l.warehouse_id = t.wh"
)
_VERSIONS = text(
    "UPDATE product p SET stock_version = p.stock_version + t.n"
    " FROM unnest(CAST(:skus AS text[]), CAST(:counts AS integer[])) AS t(sku, n)"
    " WHERE p.sku = t.sku RETURNING p.sku, p.stock_version, p.low_stock_threshold, p.vendor_id"
)
_AVAILABLE_OF = text(
    "SELECT sku, coalesce(sum(on_hand - reserved), 0) AS available FROM stock_level"
    " WHERE sku = ANY(CAST(:skus AS text[])) GROUP BY sku"
)
_AUDIT_MANY = text(
    "INSERT INTO stock_movement (sku, warehouse_id, on_hand_delta, reserved_delta,"
    " on_hand_before, on_hand_after, reserved_before, reserved_after, reason, actor,"
    " order_id, low_stock, at) SELECT sku, wh, on_hand - before, 0, before, on_hand, reserved,"
    " reserved, reason, CAST(:actor AS text), NULL, low, now() FROM unnest("
    " CAST(:skus AS text[]), CAST(:whs AS text[]), CAST(:before AS integer[]),"
    " CAST(:on_hand AS integer[]), CAST(:reserved AS integer[]), CAST(:reasons AS text[]),"
    " CAST(:low AS boolean[])) AS t(sku, wh, before, on_hand, reserved, reason, low)"
)


async def set_levels(
    session: AsyncSession, targets: Sequence[LevelTarget], *, actor: str
) -> list[StockChange]:
    """Set many levels' on_hand at once, audited as change_level audits each (one movement
    per level), in a handful of statements instead of four per level: a supplier's feed of
    100,000 rows (issue 13). The caller holds the levels' rows locked, names each level once,
    and has judged every target (not below reserved, not past MAX_ON_HAND); the CHECK
    constraints stand behind it. Products are locked here, in sku order, after the levels,
    as every writer takes them. One StockChange per SKU (its last, for the gate); a SKU is
    low when the whole set took it from at or above its threshold to below it."""
    if not targets:
        return []
    ordered = sorted(targets, key=lambda t: (t.sku, t.warehouse_id))
    skus = sorted({t.sku for t in ordered})
    await execute_sql(session, _LOCK_PRODUCTS, {"skus": skus})
    columns = {
        "skus": [t.sku for t in ordered],
        "whs": [t.warehouse_id for t in ordered],
        "on_hand": [t.on_hand for t in ordered],
    }
    await execute_sql(session, _SET_LEVELS, columns)
    counts: dict[str, int] = {}
    deltas: dict[str, int] = {}
    for t in ordered:
        counts[t.sku] = counts.get(t.sku, 0) + 1
        deltas[t.sku] = deltas.get(t.sku, 0) + t.on_hand - t.on_hand_before
    products = {
        row.sku: row
        for row in await execute_sql(
            session, _VERSIONS, {"skus": skus, "counts": [counts[sku] for sku in skus]}
        )
    }
    available = {
        row.sku: int(row.available)
        for row in await execute_sql(session, _AVAILABLE_OF, {"skus": skus})
    }
    changes: dict[str, StockChange] = {}
    for sku in skus:
        threshold, now = products[sku].low_stock_threshold, available[sku]
        changes[sku] = StockChange(
            sku=sku,
            vendor_id=products[sku].vendor_id,
            available=now,
            version=int(products[sku].stock_version),
            low_stock=threshold is not None and now - deltas[sku] >= threshold > now,
            on_hand=0,  # per level below; a SKU's change is told to the gate by its count
            reserved=0,
        )
    last_of = {t.sku: i for i, t in enumerate(ordered)}
    # The alert's movement: the SKU's last one in this set.
    low = [changes[t.sku].low_stock and last_of[t.sku] == i for i, t in enumerate(ordered)]
    await execute_sql(
        session,
        _AUDIT_MANY,
        {
            **columns,
            "actor": actor[:80],
            "before": [t.on_hand_before for t in ordered],
            "reserved": [t.reserved for t in ordered],
            "reasons": [t.reason[:200] for t in ordered],
            "low": low,
        },
    )
    return list(changes.values())


class StockAnnouncer:
    """Tells the world outside PostgreSQL about committed stock changes: the admission gate's
    counts, and low-stock alerts on the vendor's live channel. Best effort: PostgreSQL is the
    record, and a gate that missed a count is rebuilt from it."""

    def __init__(self, redis: Redis | None, gate: StockGate | None = None) -> None:
        self._redis = redis
        self._gate = gate

    async def announce(
        self, changes: Sequence[StockChange], *, settled_order: str | None = None
    ) -> None:
        """Publish the new counts; `settled_order`: an order whose checkout hold in the gate
        these changes replace (its reservation is now in PostgreSQL's count)."""
        latest: dict[str, StockChange] = {}
        for change in changes:
            if change.sku not in latest or change.version > latest[change.sku].version:
                latest[change.sku] = change
        try:
            if self._gate is not None:
                for change in latest.values():
                    await self._gate.publish(change.sku, change.available, change.version)
                if settled_order is not None:
                    await self._gate.settle(settled_order)
            if self._redis is not None:
                for change in changes:
                    if change.low_stock:
                        await self._redis.publish(
                            vendor_events_channel(change.vendor_id),
                            json.dumps(
                                {
                                    "type": "stock.low",
                                    "sku": change.sku,
                                    "available": change.available,
                                }
                            ),
                        )
        except Exception:  # never fail a stock change for its announcement
            log.warning("could not announce stock changes", exc_info=True)


def vendor_events_channel(vendor_id: str) -> str:
    return f"vendor-events:{vendor_id}"


_GATE_LEVELS = text(
    "SELECT p.sku, coalesce(sum(s.on_hand - s.reserved), 0) AS available, p.stock_version"
    " FROM product p LEFT JOIN stock_level s ON s.sku = p.sku GROUP BY p.sku, p.stock_version"
)


async def rebuild_gate(session: AsyncSession, gate: StockGate) -> int:
    """Refill the admission gate from PostgreSQL (start-up, or after Redis lost its data)."""
    rows = (await execute_sql(session, _GATE_LEVELS)).all()
    await gate.rebuild({row.sku: (int(row.available), int(row.stock_version)) for row in rows})
    return len(rows)
