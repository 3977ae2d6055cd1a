"""A worker killed in the middle of a stock feed: the feed resumes on the next worker and
every level is set exactly once (no batch applied twice, none skipped)."""

from __future__ import annotations

import asyncio

import httpx
from sqlalchemy import text

from bench.stock_feed import as_csv, levels, vendor_with_catalog, walk_inventory
from devstack.stack import DevStack
from stores.db import execute_sql, make_engine, make_sessionmaker
from tests.e2e.feeds import minutes_ago


async def movements_by(database_url: str, actor: str) -> int:
    engine = make_engine(database_url, pool_size=1)
    try:
        async with make_sessionmaker(engine)() as session:
            found = await execute_sql(
                session,
                text("SELECT count(*) FROM stock_movement WHERE actor = :actor"),
                {"actor": actor},
            )
            return int(found.scalar_one())
    finally:
        await engine.dispose()


async def test_a_feed_whose_worker_is_killed_midway_resumes_and_applies_each_row_once(
    api: httpx.AsyncClient, stack: DevStack
) -> None:
    catalog = await vendor_with_catalog(api, products=500, warehouses=20)
    rows = [(sku, wh, quantity + 1) for sku, wh, quantity in levels(catalog, 10_000)]
    sent = await api.post(
        "/v1/inventory/feeds",
        params={"as_of": minutes_ago(1).isoformat()},
        content=as_csv(rows),
        headers={**catalog.auth, "Content-Type": "text/csv"},
    )
    assert sent.status_code == 202, sent.text
    url = f"/v1/inventory/feeds/{sent.json()['id']}"
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 60
    while (feed := (await api.get(url, headers=catalog.auth)).json())["rows_applied"] == 0:
        assert loop.time() < deadline, feed
        await asyncio.sleep(0.05)
    assert feed["status"] == "running", feed  # killed with work left to do
    await asyncio.to_thread(stack.restart_worker)

    deadline = loop.time() + 120
    while (feed := (await api.get(url, headers=catalog.auth)).json())["status"] == "running":
        assert loop.time() < deadline, feed
        await asyncio.sleep(0.5)
    assert (feed["status"], feed["rows_applied"], feed["rows_refused"]) == ("succeeded", 10_000, 0)
    assert sorted(await walk_inventory(api, catalog.auth)) == sorted(rows)
    assert await movements_by(stack.env["DATABASE_URL"], f"vendor:{catalog.vendor_id}") == 10_000
