"""A stock feed the API kept but whose run it never started (killed between its commit and
the start: api/routers/stock_feeds.py) is started by the worker's sweeper
(jobs/feed_sweeper.py) and applied once; nobody has to send the file again."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.stock_feed_parsing import parse_feed
from domain.stock_feeds import FeedFormat, content_sha256, feed_id
from models.stock import MAX_ON_HAND
from stores.stock_feeds import NewFeed, create_feed
from tests.e2e.client import inventory, onboard, stock_product
from tests.e2e.money import eventually


async def test_a_feed_kept_but_never_started_is_started_by_the_worker_and_applied_once(
    api: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    seller = await onboard(api, "Lost Start", email="loststart@example.com")
    sku = await stock_product(api, seller, price_cents=400, on_hand=2)
    body = f"sku,warehouse_id,quantity\n{sku},{seller.warehouse_id},17\n".encode()
    as_of = datetime.now(UTC) - timedelta(minutes=1)
    sha = content_sha256(body)
    feed = NewFeed(
        feed_id(seller.id, as_of, FeedFormat.CSV, sha), seller.id, as_of, FeedFormat.CSV, sha
    )
    # What the API had done when it was killed: the feed kept, its run not started.
    async with sessions() as session:
        await create_feed(session, feed, parse_feed(body, FeedFormat.CSV, MAX_ON_HAND))
        await session.commit()

    async def applied() -> dict[str, Any] | None:
        found = await api.get(f"/v1/inventory/feeds/{feed.id}", headers=seller.auth)
        view: dict[str, Any] = found.json()
        return view if view["status"] == "succeeded" else None

    done = await eventually(applied, within=30)
    assert (done["rows_total"], done["rows_applied"]) == (1, 1)
    assert (await inventory(api, sku))["on_hand"] == 17
    # The same file sent now is the same feed, already applied: nothing runs twice.
    again = await api.post(
        "/v1/inventory/feeds",
        params={"as_of": as_of.isoformat()},
        content=body,
        headers={**seller.auth, "Content-Type": "text/csv"},
    )
    assert again.status_code == 202, again.text
    assert (again.json()["id"], again.json()["status"]) == (feed.id, "succeeded")
