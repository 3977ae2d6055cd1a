"""The order's SSE stream tells events apart by identity, not by type: two returns on one
vendor order are two `return.requested` events, live or from the history."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx

from tests.e2e.client import PLATFORM, onboard, order_body, place, stock_product
from tests.e2e.money import ship_and_deliver


async def open_return(
    api: httpx.AsyncClient, order_id: str, vendor_order_id: str, sku: str
) -> dict[str, Any]:
    answer = await api.post(
        f"/v1/orders/{order_id}/returns",
        json={
            "vendor_order_id": vendor_order_id,
            "lines": [{"sku": sku, "quantity": 1}],
            "reason": "changed mind",
        },
        headers=PLATFORM,
    )
    assert answer.status_code == 201, answer.text
    return answer.json()  # type: ignore[no-any-return]


class Listener:
    """Reads the order's stream in the background until it has seen `returns` returns."""

    def __init__(self, api: httpx.AsyncClient, order_id: str, returns: int) -> None:
        self.events: list[dict[str, Any]] = []
        self.connected = asyncio.Event()
        self._api, self._order_id, self._returns = api, order_id, returns

    async def run(self) -> None:
        url = f"/v1/orders/{self._order_id}/stream"
        async with self._api.stream("GET", url, headers=PLATFORM) as feed:
            assert feed.status_code == 200
            async for line in feed.aiter_lines():
                # The first line comes after the server subscribed to the live feed.
                self.connected.set()
                if line.startswith("data: "):
                    self.events.append(json.loads(line.removeprefix("data: ")))
                    if len(self.returned()) == self._returns:
                        return

    def returned(self) -> list[str]:
        return [e["detail"]["return_id"] for e in self.events if e["type"] == "return.requested"]


async def test_a_second_return_on_the_same_vendor_order_is_a_second_event_on_the_stream(
    api: httpx.AsyncClient,
) -> None:
    # Given a delivered vendor order with one return recorded, when a second return on it
    # happens while a reader listens, then the reader gets both.
    seller = await onboard(api, "ReturnsStream")
    sku = await stock_product(api, seller, price_cents=1000, on_hand=5)
    placed = await place(api, order_body([(sku, 3)]))
    assert placed.status_code == 201, placed.text
    order = placed.json()
    vendor_order_id = order["vendor_orders"][0]["id"]
    await ship_and_deliver(api, seller, vendor_order_id)
    first = await open_return(api, order["id"], vendor_order_id, sku)

    listener = Listener(api, order["id"], returns=2)
    reading = asyncio.create_task(listener.run())
    await asyncio.wait_for(listener.connected.wait(), timeout=20)
    second = await open_return(api, order["id"], vendor_order_id, sku)
    await asyncio.wait_for(reading, timeout=20)

    assert first["id"] != second["id"]
    assert listener.returned() == [first["id"], second["id"]]
    # Nothing sent twice, nothing left out: the stream is the order's history, in order.
    history = (await api.get(f"/v1/orders/{order['id']}", headers=PLATFORM)).json()["events"]
    sent = [(e["type"], e["vendor_order_id"], e["detail"] or None) for e in listener.events]
    recorded = [(e["type"], e["vendor_order_id"], e["detail"] or None) for e in history]
    assert sent == recorded[: len(sent)]
    assert [kind for kind, _, _ in recorded].count("return.requested") == 2

    # A reader arriving later gets both from the history alone.
    late = Listener(api, order["id"], returns=2)
    await asyncio.wait_for(late.run(), timeout=20)
    assert late.returned() == [first["id"], second["id"]]
