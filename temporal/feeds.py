"""Starting a stock feed's workflow (docs/stock-feeds.md): by the API once the feed is kept,
and by the worker's sweeper (jobs/feed_sweeper.py) for a feed kept whose start was lost."""

from __future__ import annotations

from temporalio.client import Client
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from domain.stock_feeds import stock_feed_workflow_id
from models.messages.stock_feeds import FeedRun
from temporal.names import Workflow


async def start_feed_run(
    client: Client, task_queue: str, feed: str, batch_size: int, parallel: int
) -> bool:
    """Start the feed's run; False when it was started before (its run is under way or
    done: a feed is applied once, ever)."""
    try:
        await client.start_workflow(
            Workflow.STOCK_FEED,
            FeedRun(feed_id=feed, batch_size=batch_size, parallel=parallel),
            id=stock_feed_workflow_id(feed),
            task_queue=task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            static_summary=f"stock feed {feed}",
        )
    except WorkflowAlreadyStartedError:
        return False
    return True
