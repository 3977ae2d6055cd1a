"""Stock feeds applied in batches (issue 13, part 3): each activity judges and applies one
range of a feed's lines in one transaction, then tells the admission gate (Redis) the new
counts. A batch retried after its commit finds its rows judged and does nothing, so a worker
that crashed mid-feed resumes where it was."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio import activity

from models.messages.stock_feeds import (
    BatchOutcome,
    FeedBatch,
    FeedEnd,
    FeedPlan,
    FeedRun,
    FeedSummary,
)
from stores import stock_feeds
from stores.stock_changes import StockAnnouncer
from temporal.names import Activity


class StockFeedActivities:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], announcer: StockAnnouncer
    ) -> None:
        self._sessions = sessions
        self._announcer = announcer

    @activity.defn(name=Activity.START_STOCK_FEED)
    async def start(self, run: FeedRun) -> FeedPlan:
        async with self._sessions() as session:
            plan = await stock_feeds.start_feed(session, run.feed_id)
            await session.commit()
        return plan

    @activity.defn(name=Activity.APPLY_STOCK_FEED_BATCH)
    async def apply_batch(self, batch: FeedBatch) -> BatchOutcome:
        async with self._sessions() as session:
            outcome, changes = await stock_feeds.apply_batch(
                session, batch.feed_id, batch.first_line, batch.last_line
            )
            await session.commit()
        # After the commit: the gate never counts stock PostgreSQL does not hold. A retry
        # after a crash here leaves the gate a version behind until the SKU's next change,
        # as every other writer's would; the gate only refuses early, never oversells.
        await self._announcer.announce(changes)
        return outcome

    @activity.defn(name=Activity.FINISH_STOCK_FEED)
    async def finish(self, end: FeedEnd) -> FeedSummary:
        async with self._sessions() as session:
            row = await stock_feeds.finish_feed(session, end.feed_id, end.failure)
            await session.commit()
        return FeedSummary(
            feed_id=end.feed_id,
            status=row.status,
            rows_applied=row.rows_applied,
            rows_unchanged=row.rows_unchanged,
            rows_refused=row.rows_refused,
        )
