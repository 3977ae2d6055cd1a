"""A supplier's stock feed of 100,000 rows applied end to end (issue 13, part 3).

Starts the whole dev stack as the other API benchmarks do, and over HTTP one vendor with
`--warehouses` warehouses and `--products` products (so up to products x warehouses levels).
Then it sends one CSV feed of `--rows` absolute levels (`POST /v1/inventory/feeds`) and polls
`GET /v1/inventory/feeds/{id}` until the feed has succeeded. It prints:

- the POST's own time (the body read, parsed and kept, the workflow started: the 202);
- end to end: from sending the POST to the feed seen succeeded, and rows/s over it;
- the workflow's own duration (the feed's started_at to finished_at) and rows/s over it;
- the check: every row applied, and `GET /v1/vendor/inventory`, walked page by page, shows
  exactly the feed's levels.

`--again` then sends a second feed of the same levels with a newer as_of (every row
unchanged: what a supplier's hourly full export costs when little moved), timed the same way.

    .venv/bin/python -m bench.stock_feed --rows 100000 --products 5000 --warehouses 20

tests/e2e/test_stock_feed_run.py runs the same functions on 2,000 rows and checks the result
(never the time).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from bench import log, options_of, reproduce_command
from bench.harness import running_stack, stop_on_sigterm
from bench.shop import OPS, REQUEST_TIMEOUT, checked
from devstack.stack import DevStack

Level = tuple[str, str, int]


@dataclass(frozen=True)
class Catalog:
    vendor_id: str
    auth: dict[str, str]
    skus: list[str]
    warehouses: list[str]


@dataclass(frozen=True)
class Applied:
    feed: dict[str, Any]
    accepted_seconds: float  # the POST, to its 202
    seconds: float  # the POST sent to the feed seen succeeded


async def vendor_with_catalog(
    api: httpx.AsyncClient, products: int, warehouses: int, concurrency: int = 16
) -> Catalog:
    """One vendor, its warehouses and products (no stock yet), made over HTTP."""
    suffix = uuid.uuid4().hex[:8]
    vendor = checked(
        await api.post(
            "/v1/vendors",
            json={"name": f"Feeder {suffix}", "email": f"feeder-{suffix}@example.com"},
            headers=OPS,
        ),
        201,
        "creating the vendor",
    )
    auth = {"Authorization": f"Bearer {vendor['api_key']}"}
    gate = asyncio.Semaphore(concurrency)

    async def warehouse(n: int) -> str:
        async with gate:
            body = {
                "name": f"Depot {n}",
                "postal_code": f"{10000 + n}",
                "country": "US",
                "latitude": 40.0 + n / 100,
                "longitude": -74.0,
            }
            answer = await api.post(
                f"/v1/vendors/{vendor['id']}/warehouses", json=body, headers=auth
            )
            return str(checked(answer, 201, "creating a warehouse")["id"])

    async def product(n: int) -> str:
        sku = f"FD-{suffix}-{n:06d}".upper()
        async with gate:
            body = {
                "vendor_id": vendor["id"],
                "sku": sku,
                "title": f"Part {n}",
                "price_cents": 1000,
                "currency": "usd",
                "weight_grams": 100,
            }
            checked(await api.post("/v1/products", json=body, headers=auth), 201, "a product")
        return sku

    depots = list(await asyncio.gather(*(warehouse(n) for n in range(warehouses))))
    skus = list(await asyncio.gather(*(product(n) for n in range(products))))
    return Catalog(vendor["id"], auth, skus, depots)


def levels(catalog: Catalog, rows: int, seed: int = 13) -> list[Level]:
    """`rows` distinct (sku, warehouse) levels with quantities from 0 to 500."""
    pairs = [(sku, warehouse) for sku in catalog.skus for warehouse in catalog.warehouses]
    if rows > len(pairs):
        raise ValueError(f"{rows} rows need more than {len(pairs)} (sku, warehouse) pairs")
    chance = random.Random(seed)
    return [(sku, warehouse, chance.randint(0, 500)) for sku, warehouse in pairs[:rows]]


def as_csv(rows: list[Level]) -> bytes:
    lines = ["sku,warehouse_id,quantity", *(f"{s},{w},{q}" for s, w, q in rows)]
    return ("\n".join(lines) + "\n").encode()


async def apply(
    api: httpx.AsyncClient,
    auth: dict[str, str],
    body: bytes,
    as_of: datetime,
    *,
    media_type: str = "text/csv",
    within: float = 900.0,
) -> Applied:
    """Send the feed and wait until it has succeeded (or failed: then RuntimeError)."""
    started = time.perf_counter()
    answer = await api.post(
        "/v1/inventory/feeds",
        params={"as_of": as_of.isoformat()},
        content=body,
        headers={**auth, "Content-Type": media_type},
    )
    accepted = time.perf_counter() - started
    feed = checked(answer, 202, "sending the feed")
    while feed["status"] not in ("succeeded", "failed"):
        if time.perf_counter() - started > within:
            raise RuntimeError(f"the feed is still {feed['status']} after {within} s: {feed}")
        await asyncio.sleep(0.2)
        feed = checked(
            await api.get(f"/v1/inventory/feeds/{feed['id']}", headers=auth), 200, "the feed"
        )
    if feed["status"] != "succeeded":
        raise RuntimeError(f"the feed failed: {feed}")
    return Applied(feed, accepted, time.perf_counter() - started)


async def walk_inventory(api: httpx.AsyncClient, auth: dict[str, str]) -> list[Level]:
    """Every level `GET /v1/vendor/inventory` shows, page by page (200 a page)."""
    found: list[Level] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 200}
        if cursor is not None:
            params["starting_after"] = cursor
        page = checked(
            await api.get("/v1/vendor/inventory", params=params, headers=auth), 200, "inventory"
        )
        found += [(row["sku"], row["warehouse_id"], row["on_hand"]) for row in page["data"]]
        if not page["has_more"]:
            return found
        cursor = page["next_cursor"]


def report(what: str, rows: int, applied: Applied) -> None:
    feed = applied.feed
    workflow = feed["duration_seconds"] or 0.0
    print(f"{what}: {rows} rows")
    print(f"  POST to 202:            {applied.accepted_seconds:8.2f} s")
    print(
        f"  POST to succeeded:      {applied.seconds:8.2f} s   {rows / applied.seconds:9.0f} rows/s"
    )
    print(f"  workflow (started-finished): {workflow:5.2f} s   {rows / workflow:9.0f} rows/s")
    print(
        f"  applied / unchanged / refused: {feed['rows_applied']} / {feed['rows_unchanged']}"
        f" / {feed['rows_refused']}"
    )


async def measure(stack: DevStack, args: argparse.Namespace) -> int:
    async with httpx.AsyncClient(base_url=stack.api_url, timeout=REQUEST_TIMEOUT) as api:
        log(f"setting up {args.products} products in {args.warehouses} warehouses")
        catalog = await vendor_with_catalog(api, args.products, args.warehouses)
        rows = levels(catalog, args.rows)
        body = as_csv(rows)
        log(f"sending a feed of {len(rows)} rows ({len(body) / 1e6:.1f} MB of CSV)")
        as_of = datetime.now(UTC) - timedelta(minutes=1)
        first = await apply(api, catalog.auth, body, as_of)
        report("first feed (every level set)", len(rows), first)
        shown = sorted(await walk_inventory(api, catalog.auth))
        ok = first.feed["rows_applied"] + first.feed["rows_unchanged"] == len(rows)
        ok = ok and shown == sorted((s, w, q) for s, w, q in rows)
        print(f"  inventory listing shows exactly the feed's levels: {'yes' if ok else 'NO'}")
        if args.again:
            again = await apply(api, catalog.auth, body, as_of + timedelta(seconds=30))
            report("the same levels again, newer as_of (every row unchanged)", len(rows), again)
            ok = (
                ok
                and again.feed["rows_unchanged"]
                == first.feed["rows_applied"] + first.feed["rows_unchanged"]
            )
    flags = "--rows --products --warehouses"
    print(f"command: {reproduce_command('bench.stock_feed', options_of(args, flags))}")
    return 0 if ok else 1


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.stock_feed", description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000, help="rows in the feed")
    parser.add_argument("--products", type=int, default=5000, help="products of the vendor")
    parser.add_argument("--warehouses", type=int, default=20, help="warehouses of the vendor")
    parser.add_argument("--again", action="store_true", help="then the same levels, newer")
    args = parser.parse_args(argv)
    if args.rows > args.products * args.warehouses:
        parser.error("--rows must be at most --products x --warehouses")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    stop_on_sigterm()
    # Traces off, production's default (bench/saga.py --traces measures them).
    with running_stack("bench-stock-feed-", {"FULFILLMENT_TRACES": "off"}) as stack:
        return asyncio.run(measure(stack, args))


if __name__ == "__main__":
    sys.exit(main())
