"""Stock through the API: adjustments, the audit trail, low-stock alerts, and no overselling
while stock moves."""

from __future__ import annotations

import asyncio
import json

import httpx

from devstack.stack import DevStack
from tests.e2e.client import (
    OPS,
    add_warehouse,
    inventory,
    onboard,
    order_body,
    place,
    stock_books_agree,
    stock_product,
)


async def test_adjustments_move_stock_and_one_below_the_reserved_units_changes_nothing(
    api: httpx.AsyncClient,
) -> None:
    seller = await onboard(api, "Adjusted")
    sku = await stock_product(api, seller, price_cents=1000, on_hand=5)
    assert (await place(api, order_body([(sku, 3)]))).status_code == 201
    url = f"/v1/inventory/{sku}/{seller.warehouse_id}/adjustments"
    added = await api.post(url, json={"delta": 4, "reason": "delivery"}, headers=seller.auth)
    assert (added.status_code, added.json()["on_hand"], added.json()["available"]) == (200, 9, 6)
    refused = await api.post(url, json={"delta": -7, "reason": "shrinkage"}, headers=seller.auth)
    assert (refused.status_code, refused.json()["code"]) == (409, "invalid_state")
    level = await inventory(api, sku)
    assert (level["on_hand"], level["reserved"], level["available"]) == (9, 3, 6)


async def test_every_stock_movement_is_audited_with_who_why_and_before_and_after(
    api: httpx.AsyncClient,
) -> None:
    seller = await onboard(api, "Audited")
    sku = await stock_product(api, seller, price_cents=1000, on_hand=5)
    order = (await place(api, order_body([(sku, 2)]))).json()
    await api.post(
        f"/v1/inventory/{sku}/{seller.warehouse_id}/adjustments",
        json={"delta": -1, "reason": "damaged in storage"},
        headers=OPS,
    )
    moves = (await api.get(f"/v1/inventory/{sku}/movements", headers=seller.auth)).json()["data"]
    assert [
        (m["actor"], m["reason"], m["on_hand_delta"], m["reserved_delta"], m["on_hand_after"])
        for m in moves
    ] == [
        ("ops", "damaged in storage", -1, 0, 4),
        (f"order:{order['id']}", "reserved for an order", 0, 2, 5),
        (f"vendor:{seller.id}", "stock count set", 5, 0, 5),
    ]
    assert (moves[1]["reserved_before"], moves[1]["reserved_after"]) == (0, 2)
    other = await onboard(api, "Nosy")
    hidden = await api.get(f"/v1/inventory/{sku}/movements", headers=other.auth)
    assert hidden.status_code == 404


async def test_a_vendor_hears_when_a_product_runs_below_its_low_stock_threshold(
    api: httpx.AsyncClient,
) -> None:
    seller = await onboard(api, "LowStock")
    created = await api.post(
        "/v1/products",
        json={
            "vendor_id": seller.id,
            "sku": f"LOW-{seller.id[-8:]}",
            "title": "Scarce",
            "price_cents": 1000,
            "currency": "usd",
            "weight_grams": 100,
            "low_stock_threshold": 3,
        },
        headers=seller.auth,
    )
    sku = created.json()["sku"]
    assert created.json()["low_stock_threshold"] == 3
    await api.put(
        f"/v1/inventory/{sku}/{seller.warehouse_id}", json={"on_hand": 4}, headers=seller.auth
    )
    heard: list[dict[str, object]] = []
    connected = asyncio.Event()

    async def listen() -> None:
        async with api.stream("GET", "/v1/vendor/events", headers=seller.auth) as feed:
            async for line in feed.aiter_lines():
                if line.startswith(": connected"):
                    connected.set()
                if line.startswith("data: "):
                    heard.append(json.loads(line.removeprefix("data: ")))
                    return

    listener = asyncio.create_task(listen())
    await asyncio.wait_for(connected.wait(), timeout=10)
    assert (await place(api, order_body([(sku, 2)]))).status_code == 201
    await asyncio.wait_for(listener, timeout=10)
    assert heard == [{"type": "stock.low", "sku": sku, "available": 2}]
    moves = (await api.get(f"/v1/inventory/{sku}/movements", headers=OPS)).json()["data"]
    assert [m["low_stock"] for m in moves] == [True, False]


async def test_parallel_checkouts_while_stock_is_adjusted_never_sell_more_than_there_is(
    api: httpx.AsyncClient, stack: DevStack
) -> None:
    seller = await onboard(api, "Rush")
    second = await add_warehouse(api, seller)
    sku = await stock_product(api, seller, price_cents=1000, on_hand=6)
    await api.put(f"/v1/inventory/{sku}/{second}", json={"on_hand": 4}, headers=seller.auth)
    url = f"/v1/inventory/{sku}/{second}/adjustments"

    async def adjust(delta: int) -> int:
        answer = await api.post(url, json={"delta": delta, "reason": "cycle count"}, headers=OPS)
        return delta if answer.status_code == 200 else 0

    buys = [place(api, order_body([(sku, 2)])) for _ in range(12)]
    adjustments = [adjust(d) for d in (3, -2, 1, -4, 2)]
    results = await asyncio.gather(*buys, *adjustments)
    answers, applied = results[:12], results[12:]
    confirmed = [a for a in answers if a.status_code == 201]  # type: ignore[union-attr]
    refused = [a for a in answers if a.status_code == 409]  # type: ignore[union-attr]
    assert len(confirmed) + len(refused) == 12
    level = await inventory(api, sku)
    on_hand = 10 + sum(applied)  # type: ignore[arg-type]
    assert level["on_hand"] == on_hand
    assert level["reserved"] == 2 * len(confirmed) <= on_hand
    for each in level["levels"]:
        assert 0 <= each["reserved"] <= each["on_hand"]
    await stock_books_agree(stack.env["DATABASE_URL"], sku)


async def test_operators_move_an_unshipped_vendor_order_and_its_held_stock_to_another_warehouse(
    api: httpx.AsyncClient,
) -> None:
    seller = await onboard(api, "Rerouted")
    west = await add_warehouse(api, seller)
    sku = await stock_product(api, seller, price_cents=1000, on_hand=9)
    await api.put(f"/v1/inventory/{sku}/{west}", json={"on_hand": 2}, headers=seller.auth)
    order = (await place(api, order_body([(sku, 3)]))).json()
    vendor_order = order["vendor_orders"][0]
    assert [line["warehouse_id"] for line in vendor_order["lines"]] == [seller.warehouse_id]
    url = f"/v1/ops/vendor-orders/{vendor_order['id']}/reroute"

    refused = await api.post(url, json={"warehouse_id": west}, headers=OPS)
    assert (refused.status_code, refused.json()["code"]) == (409, "insufficient_stock")
    assert refused.json()["items"] == [{"sku": sku, "requested": 3, "available": 2}]
    await api.put(f"/v1/inventory/{sku}/{west}", json={"on_hand": 5}, headers=seller.auth)
    moved = await api.post(url, json={"warehouse_id": west}, headers=OPS)
    assert moved.status_code == 200, moved.text
    assert [line["warehouse_id"] for line in moved.json()["lines"]] == [west]
    levels = {lv["warehouse_id"]: lv for lv in (await inventory(api, sku))["levels"]}
    assert (levels[seller.warehouse_id]["reserved"], levels[west]["reserved"]) == (0, 3)

    shipped = await api.post(
        f"/v1/vendor/orders/{vendor_order['id']}/ship",
        json={"carrier": "ups", "tracking_number": "1Z"},
        headers=seller.auth,
    )
    assert shipped.status_code == 200, shipped.text
    levels = {lv["warehouse_id"]: lv for lv in (await inventory(api, sku))["levels"]}
    assert (levels[seller.warehouse_id]["on_hand"], levels[west]["on_hand"]) == (9, 2)
    again = await api.post(url, json={"warehouse_id": seller.warehouse_id}, headers=OPS)
    assert (again.status_code, again.json()["code"]) == (409, "invalid_state")
