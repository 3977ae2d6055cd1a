"""The stock feed benchmark's own steps (bench/stock_feed.py) on a test-sized feed: 2,000 rows
over 100 products in 20 warehouses, applied through the real stack in two batches at once.
Correctness only: nothing in tests/ is timed."""

from __future__ import annotations

from datetime import timedelta

import httpx

from bench.stock_feed import apply, as_csv, levels, vendor_with_catalog, walk_inventory
from tests.e2e.feeds import minutes_ago


async def test_a_feed_of_two_thousand_rows_applies_every_level_once(
    api: httpx.AsyncClient,
) -> None:
    catalog = await vendor_with_catalog(api, products=100, warehouses=20)
    rows = levels(catalog, 2000)
    as_of = minutes_ago(2)
    first = await apply(api, catalog.auth, as_csv(rows), as_of, within=120)
    zeroes = sum(1 for _, _, quantity in rows if quantity == 0)
    assert first.feed["rows_total"] == 2000
    # A level that starts at 0 and is fed 0 is unchanged: no movement for nothing.
    assert (first.feed["rows_applied"], first.feed["rows_unchanged"]) == (2000 - zeroes, zeroes)
    assert first.feed["rows_refused"] == 0
    assert sorted(await walk_inventory(api, catalog.auth)) == sorted(rows)

    moved = [(sku, wh, quantity + 1) for sku, wh, quantity in rows]
    second = await apply(api, catalog.auth, as_csv(moved), as_of + timedelta(minutes=1))
    assert (second.feed["rows_applied"], second.feed["rows_refused"]) == (2000, 0)
    assert sorted(await walk_inventory(api, catalog.auth)) == sorted(moved)
    movements = await api.get(f"/v1/inventory/{rows[0][0]}/movements", headers=catalog.auth)
    assert len(movements.json()["data"]) == sum(
        (quantity != 0) + 1 for sku, _, quantity in rows if sku == rows[0][0]
    )
