"""Every list answers `{data, has_more, next_cursor}` and is walked page by page with
`?starting_after=`: each row exactly once, in a stable order, filters kept (issue 13, part 4;
docs/listings.md). A cursor that is not one the list gave out is a 422 and changes nothing."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import pytest

from devstack.stack import DevStack
from tests.e2e.client import (
    OPS,
    PLATFORM,
    Seller,
    bearer,
    onboard,
    order_body,
    place,
    stock_product,
    unique,
)
from tests.e2e.money import ship_and_deliver
from tests.e2e.pages import every_item, first_page
from tests.e2e.webhook_inbox import allowed_webhook_port


async def orders_of(api: httpx.AsyncClient, seller: Seller, count: int) -> list[dict[str, Any]]:
    """`count` confirmed orders of the seller's one product, placed one after another."""
    sku = await stock_product(api, seller, price_cents=1000, on_hand=10 * count)
    placed = []
    for _ in range(count):
        answer = await place(api, order_body([(sku, 1)]))
        assert answer.status_code == 201, answer.text
        placed.append(answer.json())
    return placed


async def test_a_vendors_orders_are_walked_newest_first_each_once(api: httpx.AsyncClient) -> None:
    seller = await onboard(api, "PagedOrders")
    rival = await onboard(api, "PagedRival")
    placed = await orders_of(api, seller, 5)
    await orders_of(api, rival, 1)
    ours = [vo["id"] for o in reversed(placed) for vo in o["vendor_orders"]]

    walked = await every_item(api, "/v1/vendor/orders", seller.auth, limit=2)
    assert [vo["id"] for vo in walked] == ours
    waiting = await every_item(
        api, "/v1/vendor/orders", seller.auth, limit=2, status="awaiting_shipment"
    )
    assert [vo["id"] for vo in waiting] == ours
    assert await first_page(api, "/v1/vendor/orders", seller.auth, status="shipped") == []


async def test_the_operators_orders_are_walked_newest_first_each_once(
    api: httpx.AsyncClient,
) -> None:
    seller = await onboard(api, "PagedOps")
    placed = await orders_of(api, seller, 5)
    walked = await every_item(
        api, "/v1/ops/orders", OPS, limit=2, status="confirmed", vendor_id=seller.id
    )
    assert [o["id"] for o in walked] == [o["id"] for o in reversed(placed)]


async def test_an_orders_returns_and_a_vendors_returns_are_walked_each_once(
    api: httpx.AsyncClient,
) -> None:
    seller = await onboard(api, "PagedReturns")
    skus = [await stock_product(api, seller, price_cents=1000, on_hand=5) for _ in range(3)]
    placed = await place(api, order_body([(sku, 1) for sku in skus]))
    assert placed.status_code == 201, placed.text
    order = placed.json()
    vendor_order_id = order["vendor_orders"][0]["id"]
    await ship_and_deliver(api, seller, vendor_order_id)
    opened = []
    for sku in skus:  # within the test stack's short return window
        answer = await api.post(
            f"/v1/orders/{order['id']}/returns",
            json={
                "vendor_order_id": vendor_order_id,
                "lines": [{"sku": sku, "quantity": 1}],
                "reason": "not needed",
            },
            headers=PLATFORM,
        )
        assert answer.status_code == 201, answer.text
        opened.append(answer.json()["id"])

    url = f"/v1/orders/{order['id']}/returns"
    assert [r["id"] for r in await every_item(api, url, PLATFORM, limit=2)] == opened
    assert [r["id"] for r in await every_item(api, url, OPS, limit=1)] == opened
    mine = await every_item(api, "/v1/vendor/returns", seller.auth, limit=2)
    assert [r["id"] for r in mine] == list(reversed(opened))
    assert await first_page(api, "/v1/vendor/returns", seller.auth, status="refunded") == []


async def test_a_vendors_keys_are_walked_oldest_first_each_once(api: httpx.AsyncClient) -> None:
    seller = await onboard(api, "PagedKeys")
    made = []
    for n in range(4):
        answer = await api.post("/v1/vendor/keys", json={"name": f"k{n}"}, headers=seller.auth)
        assert answer.status_code == 201, answer.text
        made.append(answer.json()["id"])
    walked = await every_item(api, "/v1/vendor/keys", bearer(seller.key), limit=2)
    assert [k["name"] for k in walked] == ["initial", "k0", "k1", "k2", "k3"]
    assert [k["id"] for k in walked][1:] == made


async def test_a_skus_stock_movements_are_walked_newest_first_each_once(
    api: httpx.AsyncClient,
) -> None:
    seller = await onboard(api, "PagedMoves")
    sku = await stock_product(api, seller, price_cents=1000, on_hand=10)
    for delta in (-1, -2, 3, -4):
        answer = await api.post(
            f"/v1/inventory/{sku}/{seller.warehouse_id}/adjustments",
            json={"delta": delta, "reason": "counted"},
            headers=seller.auth,
        )
        assert answer.status_code == 200, answer.text
    walked = await every_item(api, f"/v1/inventory/{sku}/movements", OPS, key="at", limit=2)
    assert [m["on_hand_delta"] for m in walked] == [-4, 3, -2, -1, 10]


async def test_the_platforms_endpoints_are_walked_oldest_first_each_once(
    api: httpx.AsyncClient, stack: DevStack
) -> None:
    port = allowed_webhook_port(stack)
    made = []
    try:
        for n in range(3):
            answer = await api.post(
                "/v1/webhook-endpoints",
                json={"url": f"http://127.0.0.1:{port}/paged/{n}", "event_types": ["*"]},
                headers=PLATFORM,
            )
            assert answer.status_code == 201, answer.text
            made.append(answer.json()["id"])
        walked = [e["id"] for e in await every_item(api, "/v1/webhook-endpoints", OPS, limit=2)]
        assert [e for e in walked if e in made] == made
        assert walked[-3:] == made
    finally:
        for endpoint_id in made:
            await api.delete(f"/v1/webhook-endpoints/{endpoint_id}", headers=PLATFORM)


def cursor_of(document: dict[str, Any]) -> str:
    raw = json.dumps(document).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


LISTS = [
    ("/v1/orders", "platform"),
    ("/v1/ops/orders", "ops"),
    ("/v1/ops/vendors", "ops"),
    ("/v1/ops/webhook-endpoints", "ops"),
    ("/v1/webhook-endpoints", "platform"),
    ("/v1/vendor/orders", "vendor"),
    ("/v1/vendor/returns", "vendor"),
    ("/v1/vendor/keys", "vendor"),
]
BAD_CURSORS = [
    "not-a-cursor!",
    cursor_of({"v": 1, "l": "vendor_products", "k": ["SKU"]}),  # another list's
    cursor_of({"v": 1, "l": "orders", "k": ["yesterday", "ord_1"]}),  # not a time
    cursor_of({"v": 1, "l": "orders", "k": ["2026-12-01T00:00:00", "ord_1"]}),  # no offset
    "x" * 2000,
]


@pytest.mark.parametrize(("path", "role"), LISTS)
@pytest.mark.parametrize("cursor", BAD_CURSORS)
async def test_a_cursor_the_list_did_not_give_out_is_a_422_problem(
    api: httpx.AsyncClient, vendor_for_lists: Seller, path: str, role: str, cursor: str
) -> None:
    headers = {"platform": PLATFORM, "ops": OPS, "vendor": vendor_for_lists.auth}[role]
    answer = await api.get(path, params={"starting_after": cursor}, headers=headers)
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.json()["code"] == "validation_error"


@pytest.mark.parametrize("limit", ["0", "201", "many"])
async def test_a_limit_out_of_range_is_a_422_problem(api: httpx.AsyncClient, limit: str) -> None:
    answer = await api.get("/v1/orders", params={"limit": limit}, headers=PLATFORM)
    assert answer.status_code == 422, answer.text
    assert answer.json()["code"] == "validation_error"


async def test_an_item_scoped_list_refuses_a_foreign_cursor(api: httpx.AsyncClient) -> None:
    seller = await onboard(api, "ScopedCursor")
    sku = await stock_product(api, seller, price_cents=1000, on_hand=1)
    order = (await place(api, order_body([(sku, 1)]))).json()
    foreign = cursor_of({"v": 1, "l": "orders", "k": ["2026-12-01T00:00:00+00:00", "x"]})
    for path in (f"/v1/inventory/{sku}/movements", f"/v1/orders/{order['id']}/returns"):
        answer = await api.get(path, params={"starting_after": foreign}, headers=OPS)
        assert answer.status_code == 422, answer.text


@pytest.fixture
async def vendor_for_lists(api: httpx.AsyncClient) -> Seller:
    return await onboard(api, unique("Lists"))
