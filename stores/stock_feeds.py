"""Stock feeds in PostgreSQL: a feed and its rows kept as read, then judged and applied one
batch of lines per transaction (issue 13, part 3).

A batch takes only the rows still pending and writes their outcomes in the transaction that
changes the stock, so a batch retried after its commit (a worker that crashed before telling
Temporal) finds nothing left to do. Lock order, as every stock writer (stores/stock_changes):
the batch's feed rows, then its stock levels in (sku, warehouse) order, then products by sku
(stores.stock_changes.set_levels), then the feed's own counters.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.stock_feeds import (
    FeedFormat,
    FeedRow,
    FeedStatus,
    RowOutcome,
    Verdict,
    judge_level,
    ownership,
)
from models.messages.stock_feeds import BatchOutcome, FeedPlan
from models.stock_feed import StockFeed
from stores.db import execute_sql
from stores.stock_changes import LevelTarget, StockChange, set_levels


@dataclass(frozen=True)
class NewFeed:
    id: str
    vendor_id: str
    as_of: datetime
    format: FeedFormat
    content_sha256: str


_CREATE = text(
    "INSERT INTO stock_feed (id, vendor_id, as_of, format, content_sha256, status, rows_total,"
    " rows_applied, rows_unchanged, rows_refused, created_at) VALUES (:id, :vendor_id, :as_of,"
    " :format, :sha, :status, :total, 0, 0, :refused, now()) ON CONFLICT (id) DO NOTHING"
    " RETURNING id"
)
_ROWS = text(
    "INSERT INTO stock_feed_row (feed_id, line, sku, warehouse_id, quantity, outcome, reason,"
    " detail) SELECT CAST(:feed AS text), * FROM unnest(CAST(:lines AS integer[]),"
    " CAST(:skus AS text[]), CAST(:whs AS text[]), CAST(:quantities AS integer[]),"
    " CAST(:outcomes AS text[]), CAST(:reasons AS text[]), CAST(:details AS text[]))"
)


async def create_feed(session: AsyncSession, feed: NewFeed, rows: Sequence[FeedRow]) -> bool:
    """Keep a feed and its rows as read (refused ones already judged); False when this very
    feed was kept before (the same id: sent again), and nothing is written."""
    refused = sum(1 for row in rows if row.reason is not None)
    created = (
        await execute_sql(
            session,
            _CREATE,
            {
                "id": feed.id,
                "vendor_id": feed.vendor_id,
                "as_of": feed.as_of,
                "format": str(feed.format),
                "sha": feed.content_sha256,
                "status": str(FeedStatus.QUEUED),
                "total": len(rows),
                "refused": refused,
            },
        )
    ).first() is not None
    if not created:
        return False
    # One statement for all rows: 100,000 single inserts would take the request's time.
    await execute_sql(
        session,
        _ROWS,
        {
            "feed": feed.id,
            "lines": [row.line for row in rows],
            "skus": [row.sku for row in rows],
            "whs": [row.warehouse_id for row in rows],
            "quantities": [row.quantity for row in rows],
            "outcomes": [None if row.reason is None else str(RowOutcome.REFUSED) for row in rows],
            "reasons": [None if row.reason is None else str(row.reason) for row in rows],
            "details": [None if row.detail is None else row.detail[:200] for row in rows],
        },
    )
    return True


async def start_feed(session: AsyncSession, feed_id: str) -> FeedPlan:
    await execute_sql(
        session,
        text(
            "UPDATE stock_feed SET status = :running, started_at = coalesce(started_at, now())"
            " WHERE id = :id AND status IN (:queued, :running)"
        ),
        {"id": feed_id, "running": str(FeedStatus.RUNNING), "queued": str(FeedStatus.QUEUED)},
    )
    lines = (
        await execute_sql(
            session,
            text(
                "SELECT min(line) AS first, max(line) AS last FROM stock_feed_row"
                " WHERE feed_id = :id"
            ),
            {"id": feed_id},
        )
    ).one()
    return FeedPlan(first_line=int(lines.first or 1), last_line=int(lines.last or 0))


async def finish_feed(session: AsyncSession, feed_id: str, failure: str | None) -> Any:
    """Succeeded (or failed, with why), once: a retry keeps the first finish time."""
    status = FeedStatus.FAILED if failure is not None else FeedStatus.SUCCEEDED
    return (
        await execute_sql(
            session,
            text(
                "UPDATE stock_feed SET status = CASE WHEN finished_at IS NULL THEN :status"
                " ELSE status END,"
                " failure = CASE WHEN finished_at IS NULL THEN :failure ELSE failure END,"
                " finished_at = coalesce(finished_at, now()) WHERE id = :id"
                " RETURNING status, rows_applied, rows_unchanged, rows_refused"
            ),
            {"id": feed_id, "status": str(status), "failure": failure and failure[:500]},
        )
    ).one()


_PENDING = text(
    "SELECT r.line, r.sku, r.warehouse_id, r.quantity, p.vendor_id AS product_vendor,"
    " w.vendor_id AS warehouse_vendor FROM stock_feed_row r"
    " LEFT JOIN product p ON p.sku = r.sku LEFT JOIN warehouse w ON w.id = r.warehouse_id"
    " WHERE r.feed_id = :feed AND r.line BETWEEN :first AND :last AND r.outcome IS NULL"
    " ORDER BY r.line FOR UPDATE OF r"
)
_PAIRS = "unnest(CAST(:skus AS text[]), CAST(:whs AS text[]))"
_ENSURE_LEVELS = text(
    "INSERT INTO stock_level (sku, warehouse_id, on_hand, reserved, updated_at)"
    f" SELECT s, w, 0, 0, now() FROM {_PAIRS} AS k(s, w) ON CONFLICT DO NOTHING"
)
_LOCK_LEVELS = text(
    "SELECT l.sku, l.warehouse_id, l.on_hand, l.reserved FROM stock_level l"
    f" WHERE (l.sku, l.warehouse_id) IN (SELECT s, w FROM {_PAIRS} AS k(s, w))"
    " ORDER BY l.sku, l.warehouse_id FOR UPDATE OF l"
)
# Read in a statement of its own, once the levels are locked: a statement's snapshot is
# taken when it starts, so marks joined into the locking read could predate a feed that
# committed while this one waited for its locks, and let an older feed win.
_MARKS = text(
    "SELECT sku, warehouse_id, as_of FROM stock_feed_mark"
    f" WHERE (sku, warehouse_id) IN (SELECT s, w FROM {_PAIRS} AS k(s, w))"
)
_MARK = text(
    "INSERT INTO stock_feed_mark (sku, warehouse_id, as_of, feed_id)"
    f" SELECT s, w, :as_of, :feed FROM {_PAIRS} AS k(s, w)"
    " ON CONFLICT (sku, warehouse_id) DO UPDATE SET as_of = EXCLUDED.as_of,"
    " feed_id = EXCLUDED.feed_id WHERE stock_feed_mark.as_of <= EXCLUDED.as_of"
)
_JUDGED = text(
    "UPDATE stock_feed_row r SET outcome = u.outcome, reason = u.reason, detail = u.detail"
    " FROM unnest(CAST(:lines AS integer[]), CAST(:outcomes AS text[]),"
    " CAST(:reasons AS text[]), CAST(:details AS text[])) AS u(line, outcome, reason, detail)"
    " WHERE r.feed_id = :feed AND r.line = u.line"
)
_COUNT = text(
    "UPDATE stock_feed SET rows_applied = rows_applied + :applied,"
    " rows_unchanged = rows_unchanged + :unchanged, rows_refused = rows_refused + :refused"
    " WHERE id = :feed"
)


async def apply_batch(
    session: AsyncSession, feed_id: str, first_line: int, last_line: int
) -> tuple[BatchOutcome, list[StockChange]]:
    """Judge and apply the feed's pending rows in [first_line, last_line], in the caller's
    transaction; the changes to announce once it commits."""
    feed = (
        await execute_sql(
            session,
            text("SELECT vendor_id, as_of FROM stock_feed WHERE id = :id"),
            {"id": feed_id},
        )
    ).one()
    pending = (
        await execute_sql(
            session, _PENDING, {"feed": feed_id, "first": first_line, "last": last_line}
        )
    ).all()
    if not pending:
        # Judged before: this is a retry of a batch whose commit landed (a worker that died
        # before it told Temporal, or before it told the gate). Its counts are told again.
        return BatchOutcome(), await _current_counts(session, feed_id, first_line, last_line)
    verdicts: dict[int, Verdict] = {}
    owned = []
    for row in pending:
        refusal = ownership(feed.vendor_id, row.product_vendor, row.warehouse_vendor)
        if refusal is not None:
            verdicts[row.line] = refusal
        else:
            owned.append(row)
    owned.sort(key=lambda row: (row.sku, row.warehouse_id))
    pairs = {"skus": [row.sku for row in owned], "whs": [row.warehouse_id for row in owned]}
    changes: list[StockChange] = []
    if owned:
        await execute_sql(session, _ENSURE_LEVELS, pairs)
        levels = {
            (level.sku, level.warehouse_id): level
            for level in (await execute_sql(session, _LOCK_LEVELS, pairs)).all()
        }
        last_feed = {
            (mark.sku, mark.warehouse_id): mark.as_of
            for mark in (await execute_sql(session, _MARKS, pairs)).all()
        }
        marked = []
        targets: list[LevelTarget] = []
        for row in owned:
            key = (row.sku, row.warehouse_id)
            level = levels[key]
            verdict = judge_level(
                row.quantity, level.on_hand, level.reserved, feed.as_of, last_feed.get(key)
            )
            verdicts[row.line] = verdict
            if verdict.outcome is RowOutcome.APPLIED:
                targets.append(
                    LevelTarget(
                        sku=row.sku,
                        warehouse_id=row.warehouse_id,
                        on_hand_before=level.on_hand,
                        reserved=level.reserved,
                        on_hand=row.quantity,
                        reason=f"stock feed {feed_id}, line {row.line}",
                    )
                )
            if verdict.outcome is not RowOutcome.REFUSED:
                marked.append(row)
        changes = await set_levels(session, targets, actor=f"vendor:{feed.vendor_id}")
        if marked:
            await execute_sql(
                session,
                _MARK,
                {
                    "skus": [row.sku for row in marked],
                    "whs": [row.warehouse_id for row in marked],
                    "as_of": feed.as_of,
                    "feed": feed_id,
                },
            )
    outcome = BatchOutcome()
    for verdict in verdicts.values():
        field = str(verdict.outcome)
        setattr(outcome, field, getattr(outcome, field) + 1)
    if verdicts:
        lines = sorted(verdicts)
        await execute_sql(
            session,
            _JUDGED,
            {
                "feed": feed_id,
                "lines": lines,
                "outcomes": [str(verdicts[line].outcome) for line in lines],
                "reasons": [_text_or_none(verdicts[line].reason) for line in lines],
                "details": [_text_or_none(verdicts[line].detail) for line in lines],
            },
        )
        await execute_sql(session, _COUNT, {"feed": feed_id, **outcome.model_dump()})
    return outcome, changes


_CURRENT = text(
    "SELECT p.sku, p.vendor_id, p.stock_version, coalesce(sum(s.on_hand - s.reserved), 0)"
    " AS available FROM product p LEFT JOIN stock_level s ON s.sku = p.sku"
    " WHERE p.sku IN (SELECT sku FROM stock_feed_row WHERE feed_id = :feed"
    " AND line BETWEEN :first AND :last AND outcome = :applied)"
    " GROUP BY p.sku, p.vendor_id, p.stock_version"
)


async def _current_counts(
    session: AsyncSession, feed_id: str, first_line: int, last_line: int
) -> list[StockChange]:
    """What the gate must hold now for the SKUs this batch changed. Publishing it again is
    always safe: the gate takes a count only with a version newer than its own."""
    rows = await execute_sql(
        session,
        _CURRENT,
        {
            "feed": feed_id,
            "first": first_line,
            "last": last_line,
            "applied": str(RowOutcome.APPLIED),
        },
    )
    return [
        StockChange(
            sku=row.sku,
            vendor_id=row.vendor_id,
            available=int(row.available),
            version=int(row.stock_version),
            low_stock=False,  # the first run told the vendor already
            on_hand=0,  # per level; nobody reads it from a count told again
            reserved=0,
        )
        for row in rows
    ]


def _text_or_none(value: object) -> str | None:
    return None if value is None else str(value)[:200]


async def queued_before(session: AsyncSession, cutoff: datetime, limit: int = 100) -> list[str]:
    """Feeds kept but still queued since before `cutoff`, oldest first: their start may have
    been lost (jobs/feed_sweeper.py)."""
    found = await session.exec(
        select(StockFeed.id)
        .where(StockFeed.status == str(FeedStatus.QUEUED), col(StockFeed.created_at) < cutoff)
        .order_by(col(StockFeed.created_at))
        .limit(limit)
    )
    return list(found)
