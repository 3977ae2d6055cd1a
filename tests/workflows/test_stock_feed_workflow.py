"""StockFeedWorkflow walks a feed's lines in batches, a few at a time, and records the end;
a batch that cannot be applied fails the feed (recorded for the vendor) instead of leaving it
running. Activities replaced by name: the rows themselves are tests/e2e's business."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from temporalio import activity
from temporalio.client import WorkflowFailureError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from domain.errors import ErrorCode
from models.messages.stock_feeds import (
    BatchOutcome,
    FeedBatch,
    FeedEnd,
    FeedPlan,
    FeedRun,
    FeedSummary,
)
from temporal.names import Activity
from workflows.stock_feed import StockFeedWorkflow


class FakeFeeds:
    def __init__(self, plan: FeedPlan, refuse_from: int | None = None) -> None:
        self.plan = plan
        self.refuse_from = refuse_from
        self.batches: list[tuple[int, int]] = []
        self.most_at_once = 0
        self.running = 0
        self.ends: list[FeedEnd] = []

    @activity.defn(name=Activity.START_STOCK_FEED)
    async def start(self, run: FeedRun) -> FeedPlan:
        return self.plan

    @activity.defn(name=Activity.APPLY_STOCK_FEED_BATCH)
    async def apply_batch(self, batch: FeedBatch) -> BatchOutcome:
        self.running += 1
        self.most_at_once = max(self.most_at_once, self.running)
        await asyncio.sleep(0.05)
        self.running -= 1
        if self.refuse_from is not None and batch.first_line >= self.refuse_from:
            raise ApplicationError("broken", type=ErrorCode.VALIDATION_ERROR, non_retryable=True)
        self.batches.append((batch.first_line, batch.last_line))
        return BatchOutcome(applied=batch.last_line - batch.first_line + 1)

    @activity.defn(name=Activity.FINISH_STOCK_FEED)
    async def finish(self, end: FeedEnd) -> FeedSummary:
        self.ends.append(end)
        status = "failed" if end.failure else "succeeded"
        return FeedSummary(
            feed_id=end.feed_id, status=status, rows_applied=0, rows_unchanged=0, rows_refused=0
        )


async def run(env: WorkflowEnvironment, fake: FakeFeeds, run: FeedRun) -> FeedSummary:
    queue = f"tq-{uuid.uuid4().hex[:12]}"
    async with Worker(
        env.client,
        task_queue=queue,
        workflows=[StockFeedWorkflow],
        activities=[fake.start, fake.apply_batch, fake.finish],
    ):
        return await env.client.execute_workflow(
            StockFeedWorkflow.run, run, id=f"stock-feed-{uuid.uuid4().hex}", task_queue=queue
        )


async def test_every_line_is_in_exactly_one_batch_and_at_most_parallel_run_at_once(
    env: WorkflowEnvironment,
) -> None:
    fake = FakeFeeds(FeedPlan(first_line=2, last_line=2501))
    summary = await run(env, fake, FeedRun(feed_id="feed_a", batch_size=1000, parallel=2))
    assert sorted(fake.batches) == [(2, 1001), (1002, 2001), (2002, 2501)]
    assert fake.most_at_once == 2
    assert (summary.status, fake.ends) == ("succeeded", [FeedEnd(feed_id="feed_a")])


async def test_a_batch_that_cannot_be_applied_fails_the_feed_and_records_why(
    env: WorkflowEnvironment,
) -> None:
    fake = FakeFeeds(FeedPlan(first_line=1, last_line=30), refuse_from=11)
    with pytest.raises(WorkflowFailureError):
        await run(env, fake, FeedRun(feed_id="feed_b", batch_size=10, parallel=1))
    assert fake.batches == [(1, 10)]
    assert [end.feed_id for end in fake.ends] == ["feed_b"]
    assert fake.ends[0].failure is not None and "broken" in fake.ends[0].failure
