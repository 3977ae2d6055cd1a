"""Issue 13's end-to-end check: the storefront registers an endpoint and receives, verifies and
orders every event of an order's life, including a supplier that rejects the order (it moves
to another of the vendor's warehouses), accepts it there, ships it, a return, the refund and
the payout."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from devstack.stack import DevStack
from domain.signing import verify
from tests.conftest import E2E_RETURN_WINDOW_SECONDS
from tests.e2e.client import (
    PLATFORM,
    add_warehouse,
    onboard,
    order_body,
    place,
    stock_product,
    wait_for_order,
)
from tests.e2e.money import eventually, return_received
from tests.e2e.platform_receiver import PlatformReceiver, Received, running_receiver
from tests.e2e.webhook_inbox import allowed_webhook_port

EXPECTED = [
    "order.confirmed",
    "vendor_order.rejected",
    "vendor_order.rerouted",
    "vendor_order.accepted",
    "vendor_order.shipped",
    "order.in_fulfillment",
    "vendor_order.delivered",
    "return.requested",
    "refund.succeeded",
    "return.refunded",
    "payout.released",
    "vendor_order.completed",
    "order.completed",
]


@pytest.fixture
def receiver(stack: DevStack) -> Iterator[PlatformReceiver]:
    with running_receiver(allowed_webhook_port(stack)) as running:
        yield running


def verified(request: Received, secret: str) -> dict[str, Any]:
    verify(secret, request.headers["fulfillment-signature"], request.body, int(time.time()))
    event: dict[str, Any] = request.event
    return event


async def test_the_storefront_hears_a_suppliers_rejection_move_and_the_rest_of_the_order(
    api: httpx.AsyncClient, receiver: PlatformReceiver
) -> None:
    path = receiver.new_path()
    registered = await api.post(
        "/v1/webhook-endpoints",
        json={"url": receiver.url(path), "event_types": ["*"]},
        headers=PLATFORM,
    )
    assert registered.status_code == 201, registered.text
    endpoint = registered.json()
    try:
        seller = await onboard(
            api, "Dropship Co", email="dropship@example.com", ack_sla="PT1H", on_reject="reroute"
        )
        sku = await stock_product(api, seller, price_cents=2500, on_hand=3)
        west = await add_warehouse(api, seller)
        stocked = await api.put(
            f"/v1/inventory/{sku}/{west}", json={"on_hand": 3}, headers=seller.auth
        )
        assert stocked.status_code == 200, stocked.text
        placed = await place(api, order_body([(sku, 2)]))
        assert placed.status_code == 201, placed.text
        order = placed.json()
        vendor_order_id = order["vendor_orders"][0]["id"]
        base = f"/v1/vendor/orders/{vendor_order_id}"
        steps: list[tuple[str, dict[str, Any] | None]] = [
            ("reject", {"reason": "out_of_stock"}),
            ("accept", {"supplier_order_ref": "DS-42"}),
            ("ship", {"carrier": "ups", "tracking_number": "1ZDS"}),
            ("deliver", None),
        ]
        for verb, body in steps:
            answer = await api.post(f"{base}/{verb}", json=body, headers=seller.auth)
            assert answer.status_code == 200, (verb, answer.text)
        await return_received(api, seller, order["id"], vendor_order_id, sku)
        await wait_for_order(api, order["id"], "completed", within=E2E_RETURN_WINDOW_SECONDS + 30)

        async def all_arrived() -> list[Received] | None:
            got = receiver.requests(path, order["id"])
            return got if {r.event["type"] for r in got} >= set(EXPECTED) else None

        arrived = await eventually(all_arrived, within=30)
        events = [verified(request, endpoint["secret"]) for request in arrived]
        # Each once, and in the order they happened.
        assert [event["type"] for event in events] == EXPECTED
        ids = [int(event["id"].removeprefix("evt_")) for event in events]
        assert ids == sorted(ids)
        by_type = {event["type"]: event["data"] for event in events}
        assert by_type["vendor_order.rejected"]["reason"] == "out_of_stock"
        moved_to = by_type["vendor_order.rerouted"]["warehouse_id"]
        assert moved_to in {west, seller.warehouse_id}
        assert by_type["vendor_order.accepted"]["supplier_order_ref"] == "DS-42"
        assert by_type["vendor_order.shipped"]["tracking_url"].endswith("1ZDS")
    finally:
        removed = await api.delete(f"/v1/webhook-endpoints/{endpoint['id']}", headers=PLATFORM)
        assert removed.status_code == 204, removed.text
