"""The storefront lists its orders (issue 13, part 4): `GET /v1/orders`, newest first, page by
page, by customer, status, vendor and creation time; bad filters are 422 and change nothing."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.e2e.client import OPS, PLATFORM, onboard, order_body, place, stock_product, unique
from tests.e2e.pages import every_item


async def placed_for(
    api: httpx.AsyncClient, customer: str, *lines: tuple[str, int]
) -> dict[str, Any]:
    answer = await place(api, {**order_body(list(lines)), "customer_id": customer})
    assert answer.status_code == 201, answer.text
    return answer.json()  # type: ignore[no-any-return]


async def ids(
    api: httpx.AsyncClient, headers: dict[str, str] = PLATFORM, **query: Any
) -> list[str]:
    return [o["id"] for o in await every_item(api, "/v1/orders", headers, **query)]


async def test_the_storefront_walks_a_customers_orders_newest_first_each_once(
    api: httpx.AsyncClient,
) -> None:
    brakes = await onboard(api, "ListBrakes")
    tyres = await onboard(api, "ListTyres")
    brake = await stock_product(api, brakes, price_cents=1000, on_hand=20)
    tyre = await stock_product(api, tyres, price_cents=3000, on_hand=20)
    customer, other = unique("cus"), unique("cus")
    placed = [
        await placed_for(api, customer, (brake, 1)),
        await placed_for(api, customer, (tyre, 1)),
        await placed_for(api, other, (brake, 1)),
        await placed_for(api, customer, (brake, 1), (tyre, 2)),
        await placed_for(api, customer, (brake, 2)),
    ]
    mine = [o["id"] for o in reversed(placed) if o["customer_id"] == customer]

    assert await ids(api, customer_id=customer, limit=1) == mine
    assert await ids(api, OPS, customer_id=customer, limit=3) == mine
    page = (await api.get("/v1/orders", params={"customer_id": customer}, headers=PLATFORM)).json()
    assert page["data"][0]["lines"] and page["data"][0]["vendor_orders"]
    assert await ids(api, customer_id=customer, vendor_id=tyres.id, limit=1) == [
        placed[3]["id"],
        placed[1]["id"],
    ]
    assert await ids(api, customer_id=customer, status="confirmed", limit=2) == mine
    assert await ids(api, customer_id=customer, status="completed") == []
    assert await ids(api, vendor_id=brakes.id, limit=2) == [
        o["id"] for o in reversed(placed) if any(line["sku"] == brake for line in o["lines"])
    ]


async def test_orders_are_filtered_by_their_creation_time(api: httpx.AsyncClient) -> None:
    seller = await onboard(api, "ListTimes")
    sku = await stock_product(api, seller, price_cents=1000, on_hand=20)
    customer = unique("cus")
    first = await placed_for(api, customer, (sku, 1))
    await asyncio.sleep(0.05)
    second = await placed_for(api, customer, (sku, 1))
    split = datetime.fromisoformat(second["created_at"])
    assert await ids(api, customer_id=customer, created_from=split.isoformat()) == [second["id"]]
    assert await ids(api, customer_id=customer, created_to=split.isoformat()) == [first["id"]]
    after_all = (split + timedelta(hours=1)).isoformat()
    assert await ids(api, customer_id=customer, created_from=after_all) == []
    zulu = datetime.fromisoformat(first["created_at"]).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    assert await ids(api, customer_id=customer, created_from=zulu) == [second["id"], first["id"]]


async def test_a_refused_order_is_listed_as_rejected(api: httpx.AsyncClient) -> None:
    seller = await onboard(api, "ListRefused")
    sku = await stock_product(api, seller, price_cents=1000, on_hand=5)
    customer = unique("cus")
    body = order_body([(sku, 1)], payment_method="pm_card_visa_chargeDeclined")
    declined = await place(api, {**body, "customer_id": customer})
    assert declined.status_code == 402, declined.text
    rejected = await ids(api, customer_id=customer, status="rejected")
    assert rejected == await ids(api, customer_id=customer) and len(rejected) == 1
    assert await ids(api, customer_id=customer, status="confirmed") == []


@pytest.mark.parametrize(
    "query",
    [
        {"created_from": "yesterday"},
        {"created_from": "2026-12-01T00:00:00"},  # no offset: which day is that?
        {"created_to": "2026-13-01T00:00:00Z"},
        {"created_from": "2026-12-02T00:00:00Z", "created_to": "2026-12-01T00:00:00Z"},
        {"status": "lost"},
        {"limit": "0"},
        {"starting_after": "%%%"},
        {"customer_id": "c" * 101},
    ],
)
async def test_a_bad_filter_is_a_422_problem(api: httpx.AsyncClient, query: dict[str, str]) -> None:
    answer = await api.get("/v1/orders", params=query, headers=PLATFORM)
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.json()["code"] == "validation_error"


async def test_only_the_platform_and_ops_list_orders(api: httpx.AsyncClient) -> None:
    seller = await onboard(api, "ListNosy")
    assert (await api.get("/v1/orders", headers=seller.auth)).status_code == 403
    assert (await api.get("/v1/orders")).status_code == 401
