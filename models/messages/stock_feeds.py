"""What StockFeedWorkflow and its activities exchange: ids and line ranges, never rows (a
feed's rows stay in PostgreSQL; 100,000 of them would pass Temporal's payload limits)."""

from __future__ import annotations

from pydantic import BaseModel


class FeedRun(BaseModel):
    feed_id: str
    # Rows per activity, and how many activities run at once.
    batch_size: int = 1000
    parallel: int = 4


class FeedPlan(BaseModel):
    first_line: int
    last_line: int


class FeedBatch(BaseModel):
    feed_id: str
    first_line: int
    last_line: int


class BatchOutcome(BaseModel):
    applied: int = 0
    unchanged: int = 0
    refused: int = 0


class FeedEnd(BaseModel):
    feed_id: str
    failure: str | None = None


class FeedSummary(BaseModel):
    feed_id: str
    status: str
    rows_applied: int
    rows_unchanged: int
    rows_refused: int
