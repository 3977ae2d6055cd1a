"""Stock feeds from suppliers' systems (issue 13, part 3; docs/stock-feeds.md).

`POST /v1/inventory/feeds` keeps a vendor's file of absolute levels (CSV or JSON lines) as
read and starts StockFeedWorkflow on it: 202 with the feed and its Location. The same feed
sent again (same vendor, as_of, format and bytes) is the same feed, applied once; an
Idempotency-Key is honoured as on every mutating route (api/idempotency.py). `as_of` is a
query parameter, not a header, because a key's request fingerprint covers the method, path,
query and body: the same key with another as_of is then 422 `idempotency_key_reused`.

Included before the inventory router: `/v1/inventory/feeds/...` must not be read as a SKU.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request, status
from fastapi.responses import JSONResponse
from sqlmodel import col, select, tuple_

from api.deps import (
    CurrentVendor,
    OpsOrVendor,
    SessionDep,
    SettingsDep,
    TemporalDep,
    ensure_vendor_scope,
)
from api.errors import Problem
from api.pagination import Page, PageParamsDep, after, page
from domain.errors import ErrorCode
from domain.pagination import CursorInvalid, KeyShape
from domain.stock_feed_parsing import parse_feed
from domain.stock_feeds import (
    FeedFormat,
    Reason,
    RowOutcome,
    check_as_of,
    content_sha256,
    feed_id,
)
from models.base import utcnow
from models.settings import Settings
from models.stock import MAX_ON_HAND
from models.stock_feed import FeedRefusal, StockFeed, StockFeedPublic, StockFeedRow
from stores.stock_feeds import NewFeed, create_feed
from temporal.feeds import start_feed_run

router = APIRouter(prefix="/v1/inventory", tags=["stock feeds"])

MEDIA_TYPES = {
    "text/csv": FeedFormat.CSV,
    "application/x-ndjson": FeedFormat.NDJSON,
    "application/jsonl": FeedFormat.NDJSON,
}
# Refusals shown in the feed itself; all of them page by page at its refusals URL.
FIRST_REFUSALS = 20
REFUSALS = KeyShape("stock_feed_refusals", (int,))
FEEDS = KeyShape("stock_feeds", (str, str))  # (created_at, id), newest first

_BODY = {
    "required": True,
    "content": {
        "text/csv": {
            "schema": {"type": "string"},
            "example": "sku,warehouse_id,quantity\nBRAKE-01,wh_1,12\n",
        },
        "application/x-ndjson": {
            "schema": {"type": "string"},
            "example": '{"sku": "BRAKE-01", "warehouse_id": "wh_1", "quantity": 12}\n',
        },
    },
}


def _format(request: Request) -> FeedFormat:
    given = request.headers.get("content-type", "")
    media_type = given.split(";", 1)[0].strip().lower()
    fmt = MEDIA_TYPES.get(media_type)
    if fmt is None:
        raise Problem(
            ErrorCode.UNSUPPORTED_MEDIA_TYPE,
            f"a stock feed is sent as one of {', '.join(MEDIA_TYPES)}, not {given or 'nothing'}",
            accepted=list(MEDIA_TYPES),
        )
    return fmt


@router.post(
    "/feeds",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=StockFeedPublic,
    openapi_extra={"requestBody": _BODY},
    responses={
        413: {"description": "the body is larger than FULFILLMENT_FEED_MAX_BYTES"},
        415: {"description": "not CSV or JSON lines"},
    },
)
async def post_feed(
    request: Request,
    vendor_id: CurrentVendor,
    session: SessionDep,
    temporal: TemporalDep,
    settings: SettingsDep,
    as_of: Annotated[
        datetime, Query(description="when the supplier's system took these levels, with offset")
    ],
) -> JSONResponse:
    fmt = _format(request)
    # At most FULFILLMENT_FEED_MAX_BYTES: the body limit refused a larger one before anything
    # read it (api/body_limit.py, LARGER_BODIES).
    body = await request.body()
    as_of = check_as_of(as_of, utcnow())
    sha = content_sha256(body)
    feed = NewFeed(feed_id(vendor_id, as_of, fmt, sha), vendor_id, as_of, fmt, sha)
    # The same feed sent again was read and kept the first time (only a valid one is kept).
    if await session.get(StockFeed, feed.id) is None:
        # Reading 100,000 rows takes a few hundred ms of CPU: off the event loop.
        rows = await asyncio.to_thread(parse_feed, body, fmt, MAX_ON_HAND)
        await create_feed(session, feed, rows)
    await session.commit()
    # Started after the commit (the workflow reads the rows); a feed kept but not started
    # (the API died in between) is started by the worker's sweeper (jobs/feed_sweeper.py),
    # or when the same feed is sent again.
    await _start(temporal, settings, feed.id)
    view = await _view(session, await _feed(session, feed.id, None))
    return JSONResponse(
        view.model_dump(mode="json"),
        status_code=status.HTTP_202_ACCEPTED,
        headers={"Location": f"/v1/inventory/feeds/{feed.id}"},
    )


async def _start(temporal: TemporalDep, settings: Settings, feed: str) -> None:
    await start_feed_run(
        temporal,
        settings.task_queue,
        feed,
        settings.feed_batch_size,
        settings.feed_parallel_batches,
    )


async def _feed(session: SessionDep, feed: str, vendor_id: str | None) -> StockFeed:
    found = await session.get(StockFeed, feed, populate_existing=True)
    if found is None or (vendor_id is not None and found.vendor_id != vendor_id):
        raise Problem(ErrorCode.NOT_FOUND, "no such stock feed")
    return found


async def _view(session: SessionDep, feed: StockFeed) -> StockFeedPublic:
    refused = list(
        await session.exec(
            select(StockFeedRow)
            .where(StockFeedRow.feed_id == feed.id, StockFeedRow.outcome == str(RowOutcome.REFUSED))
            .order_by(col(StockFeedRow.line))
            .limit(FIRST_REFUSALS + 1)
        )
    )
    duration = None
    if feed.started_at is not None and feed.finished_at is not None:
        duration = (feed.finished_at - feed.started_at).total_seconds()
    return StockFeedPublic(
        **feed.model_dump(),
        refusals=[_refusal(row) for row in refused[:FIRST_REFUSALS]],
        refusals_has_more=len(refused) > FIRST_REFUSALS,
        refusals_url=f"/v1/inventory/feeds/{feed.id}/refusals",
        duration_seconds=duration,
    )


def _refusal(row: StockFeedRow) -> FeedRefusal:
    return FeedRefusal(
        line=row.line,
        sku=row.sku,
        warehouse_id=row.warehouse_id,
        reason=Reason(row.reason or Reason.MALFORMED_ROW),  # every refused row has one
        detail=row.detail,
    )


@router.get("/feeds", response_model=Page[StockFeedPublic])
async def list_feeds(
    vendor_id: CurrentVendor, session: SessionDep, params: PageParamsDep
) -> Page[StockFeedPublic]:
    """The calling vendor's feeds, newest first."""
    query = select(StockFeed).where(StockFeed.vendor_id == vendor_id)
    start = after(params, FEEDS)
    if start is not None:
        try:
            at = datetime.fromisoformat(str(start[0]))
        except ValueError:
            raise CursorInvalid("its key has the wrong shape") from None
        query = query.where(
            tuple_(col(StockFeed.created_at), col(StockFeed.id)) < tuple_(at, str(start[1]))
        )
    query = query.order_by(col(StockFeed.created_at).desc(), col(StockFeed.id).desc())
    feeds = list(await session.exec(query.limit(params.fetch)))
    views = {feed.id: await _view(session, feed) for feed in feeds[: params.limit]}
    return page(
        feeds,
        params,
        FEEDS,
        lambda feed: (feed.created_at.isoformat(), feed.id),
        lambda feed: views[feed.id],
    )


@router.get("/feeds/{feed_id}", response_model=StockFeedPublic)
async def get_feed(feed_id: str, principal: OpsOrVendor, session: SessionDep) -> StockFeedPublic:
    """Where the feed is: queued, running, succeeded or failed; its rows applied, unchanged
    and refused so far; the first refusals; when it started and finished."""
    feed = await _feed(session, feed_id, None)
    ensure_vendor_scope(principal, feed.vendor_id, "stock feed")
    return await _view(session, feed)


@router.get("/feeds/{feed_id}/refusals", response_model=Page[FeedRefusal])
async def list_refusals(
    feed_id: str, principal: OpsOrVendor, session: SessionDep, params: PageParamsDep
) -> Page[FeedRefusal]:
    """Every refused row of the feed, by line, with its reason."""
    feed = await _feed(session, feed_id, None)
    ensure_vendor_scope(principal, feed.vendor_id, "stock feed")
    query = select(StockFeedRow).where(
        StockFeedRow.feed_id == feed.id, StockFeedRow.outcome == str(RowOutcome.REFUSED)
    )
    start = after(params, REFUSALS)
    if start is not None:
        query = query.where(col(StockFeedRow.line) > start[0])
    rows = list(await session.exec(query.order_by(col(StockFeedRow.line)).limit(params.fetch)))
    return page(rows, params, REFUSALS, lambda row: (row.line,), _refusal)
