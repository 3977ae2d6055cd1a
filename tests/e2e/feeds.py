"""Sending stock feeds and reading them back, for the e2e tests of issue 13, part 3."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.e2e.client import Seller

CSV = "text/csv"
NDJSON = "application/x-ndjson"


def minutes_ago(minutes: float) -> datetime:
    return datetime.now(UTC) - timedelta(minutes=minutes)


def csv_body(*rows: tuple[object, object, object]) -> bytes:
    lines = ["sku,warehouse_id,quantity", *(f"{s},{w},{q}" for s, w, q in rows)]
    return ("\n".join(lines) + "\n").encode()


def ndjson_body(*rows: tuple[object, object, object]) -> bytes:
    return "".join(
        json.dumps({"sku": s, "warehouse_id": w, "quantity": q}) + "\n" for s, w, q in rows
    ).encode()


async def send(
    api: httpx.AsyncClient,
    seller: Seller,
    body: bytes,
    as_of: datetime,
    *,
    media_type: str = CSV,
    key: str | None = None,
) -> httpx.Response:
    headers = {**seller.auth, "Content-Type": media_type}
    if key is not None:
        headers["Idempotency-Key"] = key
    return await api.post(
        "/v1/inventory/feeds", params={"as_of": as_of.isoformat()}, content=body, headers=headers
    )


async def finished(
    api: httpx.AsyncClient, seller: Seller, feed_id: str, within: float = 60
) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + within
    while True:
        answer = await api.get(f"/v1/inventory/feeds/{feed_id}", headers=seller.auth)
        assert answer.status_code == 200, answer.text
        feed: dict[str, Any] = answer.json()
        if feed["status"] in ("succeeded", "failed"):
            return feed
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"the feed stayed {feed['status']}: {feed}")
        await asyncio.sleep(0.2)


async def apply(
    api: httpx.AsyncClient,
    seller: Seller,
    body: bytes,
    as_of: datetime,
    *,
    media_type: str = CSV,
) -> dict[str, Any]:
    """Send a feed and wait for it to be done: the feed as GET shows it then."""
    answer = await send(api, seller, body, as_of, media_type=media_type)
    assert answer.status_code == 202, answer.text
    assert answer.headers["Location"] == f"/v1/inventory/feeds/{answer.json()['id']}"
    return await finished(api, seller, answer.json()["id"])


async def levels(
    api: httpx.AsyncClient, seller: Seller, **query: Any
) -> dict[tuple[str, str], int]:
    """(sku, warehouse) -> on_hand, as the vendor's inventory list shows them (one page)."""
    answer = await api.get(
        "/v1/vendor/inventory", params={"limit": 200, **query}, headers=seller.auth
    )
    assert answer.status_code == 200, answer.text
    return {(row["sku"], row["warehouse_id"]): row["on_hand"] for row in answer.json()["data"]}


async def movements(api: httpx.AsyncClient, seller: Seller, sku: str) -> list[dict[str, Any]]:
    answer = await api.get(
        f"/v1/inventory/{sku}/movements", params={"limit": 200}, headers=seller.auth
    )
    assert answer.status_code == 200, answer.text
    return answer.json()["data"]  # type: ignore[no-any-return]


async def new_product(api: httpx.AsyncClient, seller: Seller, sku: str) -> str:
    created = await api.post(
        "/v1/products",
        json={
            "vendor_id": seller.id,
            "sku": sku,
            "title": f"Item {sku}",
            "price_cents": 1000,
            "currency": "usd",
            "weight_grams": 100,
        },
        headers=seller.auth,
    )
    assert created.status_code == 201, created.text
    return sku
