"""Stock feeds (issue 13, part 3): a supplier's file of absolute levels, its rows as read and
what became of each, and per stock level the time of the last feed that set it."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel
from sqlalchemy import Column, DateTime
from sqlmodel import Field, SQLModel

from domain.stock_feeds import FeedFormat, FeedStatus, Reason
from models.base import optional_timestamp, timestamp


class StockFeed(SQLModel, table=True):
    __tablename__ = "stock_feed"
    # Derived from the vendor, as_of, format and content (domain.stock_feeds.feed_id): the same
    # feed sent twice is this one row.
    id: str = Field(primary_key=True, max_length=40)
    vendor_id: str = Field(foreign_key="vendor.id", index=True, max_length=40)
    as_of: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    format: str = Field(max_length=8)
    content_sha256: str = Field(max_length=64)
    status: str = Field(max_length=16)  # domain.stock_feeds.FeedStatus
    # Counters kept in the transaction that judges the rows, so progress is exact.
    rows_total: int
    rows_applied: int = 0
    rows_unchanged: int = 0
    rows_refused: int = 0
    failure: str | None = Field(default=None, max_length=500)
    created_at: datetime = timestamp()
    started_at: datetime | None = optional_timestamp()
    finished_at: datetime | None = optional_timestamp()


class StockFeedRow(SQLModel, table=True):
    """A row as read from the feed (its physical line), and its outcome once judged: NULL
    while pending, so a batch applied and committed is never applied again."""

    __tablename__ = "stock_feed_row"
    feed_id: str = Field(foreign_key="stock_feed.id", primary_key=True, max_length=40)
    line: int = Field(primary_key=True)
    sku: str | None = Field(default=None, max_length=64)
    warehouse_id: str | None = Field(default=None, max_length=40)
    quantity: int | None = None
    outcome: str | None = Field(default=None, max_length=16)  # domain.stock_feeds.RowOutcome
    reason: str | None = Field(default=None, max_length=32)  # domain.stock_feeds.Reason
    detail: str | None = Field(default=None, max_length=200)


class StockFeedMark(SQLModel, table=True):
    """The as_of of the last feed that set (or confirmed) a stock level: an older feed's row
    for it is refused as stale. Written only with the level's row locked."""

    __tablename__ = "stock_feed_mark"
    sku: str = Field(primary_key=True, max_length=64)
    warehouse_id: str = Field(primary_key=True, max_length=40)
    as_of: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    feed_id: str = Field(max_length=40)


class FeedRefusal(BaseModel):
    line: int
    sku: str | None
    warehouse_id: str | None
    reason: Reason
    detail: str | None


class StockFeedPublic(BaseModel):
    id: str
    vendor_id: str
    status: FeedStatus
    format: FeedFormat
    as_of: datetime
    content_sha256: str
    rows_total: int
    rows_applied: int
    rows_unchanged: int
    rows_refused: int
    # The first refusals by line; all of them page by page at `refusals_url`.
    refusals: list[FeedRefusal]
    refusals_has_more: bool
    refusals_url: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    duration_seconds: float | None
    failure: str | None
