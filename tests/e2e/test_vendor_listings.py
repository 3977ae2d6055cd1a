"""A vendor lists its own products and stock levels page by page (issue 13, part 3): every
row exactly once, in key order, filtered by SKU or by low stock; another vendor's never."""

from __future__ import annotations

from typing import Any

import httpx

from tests.e2e.client import Seller, add_warehouse, onboard, order_body, place, unique
from tests.e2e.feeds import apply, csv_body, minutes_ago, new_product


async def walk(
    api: httpx.AsyncClient, seller: Seller, path: str, limit: int, **query: Any
) -> tuple[list[dict[str, Any]], int]:
    """Every item of a list, following next_cursor; and how many pages it took."""
    items: list[dict[str, Any]] = []
    params: dict[str, Any] = {"limit": limit, **query}
    pages = 0
    while True:
        answer = await api.get(path, params=params, headers=seller.auth)
        assert answer.status_code == 200, answer.text
        page = answer.json()
        pages += 1
        assert len(page["data"]) <= limit
        items += page["data"]
        if not page["has_more"]:
            assert page["next_cursor"] is None
            return items, pages
        params = {**params, "starting_after": page["next_cursor"]}


async def test_pagination_walks_every_product_and_level_exactly_once_in_key_order(
    api: httpx.AsyncClient,
) -> None:
    seller = await onboard(api, "Lister")
    rival = await onboard(api, "OtherLister")
    west = await add_warehouse(api, seller)
    prefix = unique("PG")
    skus = [await new_product(api, seller, f"{prefix}-{n}") for n in range(7)]
    await new_product(api, rival, f"{prefix}-R")
    rows = [(sku, wh, n) for n, sku in enumerate(skus) for wh in (seller.warehouse_id, west)]
    await apply(api, seller, csv_body(*rows), minutes_ago(1))

    products, pages = await walk(api, seller, "/v1/vendor/products", 3)
    assert ([p["sku"] for p in products], pages) == (sorted(skus), 3)
    assert all(p["vendor_id"] == seller.id for p in products)
    levels, pages = await walk(api, seller, "/v1/vendor/inventory", 4)
    assert pages == 4
    assert [(lv["sku"], lv["warehouse_id"]) for lv in levels] == sorted(
        (sku, wh) for sku, wh, _ in rows
    )
    assert {(lv["sku"], lv["warehouse_id"]): lv["on_hand"] for lv in levels} == {
        (sku, wh): n for sku, wh, n in rows
    }
    first = (await api.get("/v1/vendor/products", headers=seller.auth)).json()
    assert (len(first["data"]), first["has_more"], first["next_cursor"]) == (7, False, None)


async def test_inventory_is_filtered_by_sku_and_by_low_available_stock(
    api: httpx.AsyncClient,
) -> None:
    seller = await onboard(api, "LowLister")
    plenty = await new_product(api, seller, unique("PL"))
    scarce = await new_product(api, seller, unique("SC"))
    wh = seller.warehouse_id
    await apply(api, seller, csv_body((plenty, wh, 40), (scarce, wh, 5)), minutes_ago(1))
    assert (await place(api, order_body([(scarce, 3)]))).status_code == 201

    low, _ = await walk(api, seller, "/v1/vendor/inventory", 50, available_lte=2)
    assert low == [{"sku": scarce, "warehouse_id": wh, "on_hand": 5, "reserved": 3, "available": 2}]
    one, _ = await walk(api, seller, "/v1/vendor/inventory", 50, sku=plenty)
    assert [(lv["sku"], lv["available"]) for lv in one] == [(plenty, 40)]
    none, _ = await walk(api, seller, "/v1/vendor/inventory", 50, available_lte=1)
    assert none == []


async def test_a_malformed_or_foreign_cursor_is_a_422_problem(api: httpx.AsyncClient) -> None:
    seller = await onboard(api, "Cursor")
    for n in range(3):
        await new_product(api, seller, unique(f"CU{n}"))
    page = (await api.get("/v1/vendor/products?limit=1", headers=seller.auth)).json()
    products_cursor = page["next_cursor"]
    for path, cursor in (
        ("/v1/vendor/products", "garbage!"),
        ("/v1/vendor/products", "eyJ2IjoxfQ"),
        ("/v1/vendor/inventory", products_cursor),  # another list's cursor
    ):
        answer = await api.get(path, params={"starting_after": cursor}, headers=seller.auth)
        assert answer.status_code == 422, answer.text
        assert answer.headers["content-type"] == "application/problem+json"
        assert (answer.json()["code"], answer.json()["field"]) == (
            "validation_error",
            "starting_after",
        )
    for limit in (0, 201):
        answer = await api.get(f"/v1/vendor/products?limit={limit}", headers=seller.auth)
        assert (answer.status_code, answer.json()["code"]) == (422, "validation_error")
    ops = await api.get("/v1/vendor/products", headers={"Authorization": "Bearer dev-ops-key"})
    assert ops.status_code == 403
