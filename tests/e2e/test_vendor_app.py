"""The vendor app and the storefront's live feed, over HTTP."""

from __future__ import annotations

import asyncio
import json

import httpx

from tests.e2e.client import PLATFORM, inventory, onboard, order_body, place, stock_product


async def test_a_vendor_shipping_the_same_sub_order_many_times_at_once_ships_it_exactly_once(
    api: httpx.AsyncClient,
) -> None:
    seller = await onboard(api, "Racer")
    sku = await stock_product(api, seller, price_cents=1200, on_hand=6)
    vendor_order = (await place(api, order_body([(sku, 2)]))).json()["vendor_orders"][0]["id"]
    answers = await asyncio.gather(
        *(
            api.post(
                f"/v1/vendor/orders/{vendor_order}/ship",
                json={"carrier": "ups", "tracking_number": f"1Z{n}"},
                headers=seller.auth,
            )
            for n in range(6)
        )
    )
    codes = sorted(a.status_code for a in answers)
    assert codes == [200, 409, 409, 409, 409, 409]
    assert {a.json()["code"] for a in answers if a.status_code == 409} == {"invalid_state"}
    winner = next(a.json() for a in answers if a.status_code == 200)
    stored = (await api.get(f"/v1/vendor/orders/{vendor_order}", headers=seller.auth)).json()
    assert (stored["status"], stored["tracking_number"]) == ("shipped", winner["tracking_number"])
    level = await inventory(api, sku)
    assert (level["on_hand"], level["reserved"]) == (4, 0)


async def test_delivering_before_shipping_is_refused_and_changes_nothing(
    api: httpx.AsyncClient,
) -> None:
    seller = await onboard(api, "Early")
    sku = await stock_product(api, seller, price_cents=1200, on_hand=2)
    vendor_order = (await place(api, order_body([(sku, 1)]))).json()["vendor_orders"][0]["id"]
    refused = await api.post(f"/v1/vendor/orders/{vendor_order}/deliver", headers=seller.auth)
    assert (refused.status_code, refused.json()["code"]) == (409, "invalid_state")
    stored = (await api.get(f"/v1/vendor/orders/{vendor_order}", headers=seller.auth)).json()
    assert (stored["status"], stored["delivered_at"]) == ("awaiting_shipment", None)


async def test_the_storefront_sees_past_and_new_order_events_as_they_happen(
    api: httpx.AsyncClient,
) -> None:
    seller = await onboard(api, "Streamer")
    sku = await stock_product(api, seller, price_cents=1200, on_hand=2)
    order = (await place(api, order_body([(sku, 1)]))).json()
    received: list[dict[str, object]] = []

    async def listen() -> None:
        async with api.stream("GET", f"/v1/orders/{order['id']}/stream", headers=PLATFORM) as feed:
            assert feed.headers["content-type"].startswith("text/event-stream")
            async for line in feed.aiter_lines():
                if line.startswith("data: "):
                    received.append(json.loads(line.removeprefix("data: ")))
                    if received[-1]["type"] == "order.in_fulfillment":
                        return

    listener = asyncio.create_task(listen())
    await asyncio.sleep(0.5)
    shipped = await api.post(
        f"/v1/vendor/orders/{order['vendor_orders'][0]['id']}/ship",
        json={"carrier": "ups", "tracking_number": "LIVE-1"},
        headers=seller.auth,
    )
    assert shipped.status_code == 200
    await asyncio.wait_for(listener, timeout=20)
    assert [e["type"] for e in received] == [
        "order.placed",
        "vendor_order.created",
        "order.confirmed",
        "vendor_order.shipped",
        "order.in_fulfillment",
    ]
