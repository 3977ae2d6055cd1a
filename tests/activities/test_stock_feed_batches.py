"""A stock feed's batch against real PostgreSQL and Redis: applied once however often it runs
(a worker that died after the commit is retried), and the admission gate told the new count
even when the run that changed it never got to tell it. And the bulk write it uses audits
each level as the one-change write path does."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from activities.stock_feeds import StockFeedActivities
from devstack.stack import DevStack
from domain.stock_feed_parsing import parse_feed
from domain.stock_feeds import FeedFormat, content_sha256, feed_id
from models.messages.stock_feeds import FeedBatch, FeedEnd, FeedRun
from stores.db import connect_redis, execute_sql
from stores.stock_changes import LevelTarget, StockAnnouncer, set_levels
from stores.stock_feeds import NewFeed, create_feed
from stores.stock_gate import StockGate
from tests.store_helpers import seed


@pytest.fixture
async def gate(stack: DevStack) -> AsyncIterator[StockGate]:
    redis = connect_redis(stack.env["REDIS_URL"])
    try:
        yield StockGate(redis, namespace=f"gate-{uuid.uuid4().hex[:8]}")
    finally:
        await redis.aclose()


async def kept_feed(sessions: async_sessionmaker[AsyncSession], vendor: str, body: bytes) -> str:
    as_of = datetime.now(UTC)
    sha = content_sha256(body)
    feed = NewFeed(feed_id(vendor, as_of, FeedFormat.CSV, sha), vendor, as_of, FeedFormat.CSV, sha)
    async with sessions() as session:
        assert await create_feed(session, feed, parse_feed(body, FeedFormat.CSV, 1000))
        assert not await create_feed(session, feed, [])  # the same feed again: kept once
        await session.commit()
    return feed.id


async def on_hand_and_moves(
    sessions: async_sessionmaker[AsyncSession], sku: str
) -> tuple[int, int]:
    async with sessions() as session:
        row = (
            await execute_sql(
                session,
                text(
                    "SELECT (SELECT sum(on_hand) FROM stock_level WHERE sku = :sku) AS on_hand,"
                    " (SELECT count(*) FROM stock_movement WHERE sku = :sku) AS moves"
                ),
                {"sku": sku},
            )
        ).one()
    return int(row.on_hand), int(row.moves)


async def test_a_batch_run_again_after_its_commit_applies_nothing_and_tells_the_gate(
    sessions: async_sessionmaker[AsyncSession], gate: StockGate
) -> None:
    sku, vendor = await seed(sessions, {"w1": 2})
    warehouse = "w1_" + sku.removeprefix("SKU-")
    feed = await kept_feed(
        sessions, vendor, f"sku,warehouse_id,quantity\n{sku},{warehouse},9\n".encode()
    )
    # The first run commits, then its worker dies before it tells the gate anything.
    deaf = StockFeedActivities(sessions, StockAnnouncer(None, None))
    plan = await deaf.start(FeedRun(feed_id=feed))
    assert (plan.first_line, plan.last_line) == (2, 2)
    batch = FeedBatch(feed_id=feed, first_line=2, last_line=2)
    first = await deaf.apply_batch(batch)
    assert (first.applied, first.unchanged, first.refused) == (1, 0, 0)
    assert await gate.available(sku) is None

    retried = await StockFeedActivities(sessions, StockAnnouncer(None, gate)).apply_batch(batch)
    assert (retried.applied, retried.unchanged, retried.refused) == (0, 0, 0)
    assert await on_hand_and_moves(sessions, sku) == (9, 1)
    assert await gate.available(sku) == 9

    summary = await deaf.finish(FeedEnd(feed_id=feed))
    assert (summary.status, summary.rows_applied) == ("succeeded", 1)
    again = await deaf.finish(FeedEnd(feed_id=feed, failure="late"))
    assert again.status == "succeeded"  # a finished feed keeps its first ending


async def test_setting_many_levels_audits_each_as_one_change_would(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    sku, _ = await seed(sessions, {"w1": 2, "w2": 5})
    suffix = sku.removeprefix("SKU-")
    w1, w2 = f"w1_{suffix}", f"w2_{suffix}"
    async with sessions() as session:
        await execute_sql(
            session,
            text("UPDATE product SET low_stock_threshold = 4 WHERE sku = :sku"),
            {"sku": sku},
        )
        version = (
            await execute_sql(
                session, text("SELECT stock_version FROM product WHERE sku = :sku"), {"sku": sku}
            )
        ).scalar_one()
        changes = await set_levels(
            session,
            [
                LevelTarget(sku, w2, on_hand_before=5, reserved=0, on_hand=0, reason="count b"),
                LevelTarget(sku, w1, on_hand_before=2, reserved=0, on_hand=3, reason="count a"),
            ],
            actor="vendor:v",
        )
        await session.commit()
        moves = (
            await execute_sql(
                session,
                text(
                    "SELECT warehouse_id, on_hand_delta, reserved_delta, on_hand_before,"
                    " on_hand_after, reason, actor, low_stock FROM stock_movement"
                    " WHERE sku = :sku ORDER BY id"
                ),
                {"sku": sku},
            )
        ).all()
    assert [tuple(move) for move in moves] == [
        (w1, 1, 0, 2, 3, "count a", "vendor:v", False),
        (w2, -5, 0, 5, 0, "count b", "vendor:v", True),  # 7 available -> 3, below 4
    ]
    [change] = changes
    assert (change.sku, change.available, change.version, change.low_stock) == (
        sku,
        3,
        version + 2,
        True,
    )
    assert await on_hand_and_moves(sessions, sku) == (3, 2)
