"""One supplier stock feed applied end to end (issue 13, part 3).

The feed's rows wait in PostgreSQL (the API kept them as read); this workflow only walks
their lines in batches, a few at a time, then records the end. Each batch commits its rows'
outcomes with the stock it changes, so a worker that dies mid-feed resumes at the batches not
yet done, and a batch run twice applies nothing twice. Started by the API with the id
`stock-feed-{feed_id}`: the same feed sent again never starts a second run.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from domain.errors import ErrorCode
    from models.messages.stock_feeds import (
        BatchOutcome,
        FeedBatch,
        FeedEnd,
        FeedPlan,
        FeedRun,
        FeedSummary,
    )
    from temporal.names import Activity, Workflow
    from workflows.options import STEP_FAILED

# Database work, retried until the database answers.
_BATCH_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=500),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=30),
    non_retryable_error_types=[ErrorCode.VALIDATION_ERROR],
)
# A batch takes well under a second (bench/README.md); a worker that died holding one is
# noticed by this timeout, so it is what a crash costs a feed.
_BATCH_TIMEOUT = timedelta(seconds=30)
_STEP_TIMEOUT = timedelta(seconds=30)


@workflow.defn(name=Workflow.STOCK_FEED)
class StockFeedWorkflow:
    @workflow.run
    async def run(self, run: FeedRun) -> FeedSummary:
        plan = await workflow.execute_activity(
            Activity.START_STOCK_FEED,
            run,
            result_type=FeedPlan,
            start_to_close_timeout=_STEP_TIMEOUT,
            retry_policy=_BATCH_RETRY,
        )
        try:
            await self._apply(run, plan)
        except STEP_FAILED as error:
            # Recorded for the vendor's GET, then the run fails as a saga does (DESIGN.md).
            await self._finish(FeedEnd(feed_id=run.feed_id, failure=str(error.__cause__ or error)))
            raise ApplicationError(
                f"stock feed {run.feed_id} could not be applied", type=ErrorCode.INTERNAL_ERROR
            ) from error
        return await self._finish(FeedEnd(feed_id=run.feed_id))

    async def _apply(self, run: FeedRun, plan: FeedPlan) -> None:
        size = max(run.batch_size, 1)
        batches = [
            FeedBatch(
                feed_id=run.feed_id,
                first_line=first,
                last_line=min(first + size - 1, plan.last_line),
            )
            for first in range(plan.first_line, plan.last_line + 1, size)
        ]
        at_once = max(run.parallel, 1)
        for start in range(0, len(batches), at_once):
            await asyncio.gather(
                *(
                    workflow.execute_activity(
                        Activity.APPLY_STOCK_FEED_BATCH,
                        batch,
                        result_type=BatchOutcome,
                        start_to_close_timeout=_BATCH_TIMEOUT,
                        retry_policy=_BATCH_RETRY,
                    )
                    for batch in batches[start : start + at_once]
                )
            )

    async def _finish(self, end: FeedEnd) -> FeedSummary:
        return await workflow.execute_activity(
            Activity.FINISH_STOCK_FEED,
            end,
            result_type=FeedSummary,
            start_to_close_timeout=_STEP_TIMEOUT,
            retry_policy=_BATCH_RETRY,
        )
