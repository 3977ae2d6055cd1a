"""A label is bought only with a rate in the vendor order's currency: a parcel the carriers
quote in another currency (the Shippo emulator quotes a Canadian warehouse's parcels in CAD)
is refused, and nothing is bought, shipped or taken off the shelf."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator

import httpx
import pytest

from devstack.stack import DevStack
from tests.e2e.client import (
    inventory,
    onboard,
    order_body,
    place,
    stock_product,
)

PARCEL = {"length_cm": 30, "width_cm": 20, "height_cm": 10, "weight_grams": 1200}
TORONTO = {
    "name": "Toronto",
    "postal_code": "M5V 2T6",
    "country": "CA",
    "latitude": 43.64,
    "longitude": -79.39,
    "address_line1": "290 Bremner Blvd",
    "city": "Toronto",
    "state": "ON",
}


@pytest.fixture
async def shippo(stack: DevStack) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=stack.env["SHIPPO_API_BASE"], timeout=30) as client:
        yield client


async def test_a_label_is_never_bought_in_another_currency_than_the_vendor_orders(
    api: httpx.AsyncClient, shippo: httpx.AsyncClient
) -> None:
    # Given a usd vendor order shipped from Canada, whose rates are all in CAD,
    seller = await onboard(api, "MapleParts")
    created = await api.post(
        f"/v1/vendors/{seller.id}/warehouses", json=TORONTO, headers=seller.auth
    )
    assert created.status_code == 201, created.text
    seller = dataclasses.replace(seller, warehouse_id=created.json()["id"])
    sku = await stock_product(api, seller, price_cents=3000, on_hand=4)
    placed = await place(api, order_body([(sku, 2)]))
    assert placed.status_code == 201, placed.text
    order = placed.json()
    assert order["currency"] == "usd"
    vendor_order_id = order["vendor_orders"][0]["id"]
    stock_before = await inventory(api, sku)

    # when the vendor buys a label,
    answer = await api.post(
        f"/v1/vendor/orders/{vendor_order_id}/ship",
        json={"purchase_label": True, "parcel": PARCEL},
        headers=seller.auth,
    )

    # then it is refused with a stable code, and nothing changed.
    assert answer.status_code == 422, answer.text
    problem = answer.json()
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert (problem["code"], problem["currency"], problem["offered"]) == (
        "validation_error",
        "usd",
        ["cad"],
    )
    assert problem["detail"].startswith("no rate in usd")
    # Nothing changed: no label bought at Shippo, the vendor order still awaits shipment with
    # no label cost, and its units are still held, not taken off the shelf.
    bought = await shippo.get(
        "/_emulator/transactions", params={"metadata": f"vendor_order:{vendor_order_id}"}
    )
    assert bought.json()["count"] == 0
    mine = await api.get(f"/v1/vendor/orders/{vendor_order_id}", headers=seller.auth)
    assert mine.status_code == 200, mine.text
    after = mine.json()
    assert (after["status"], after["label_url"], after["label_cost_cents"]) == (
        "awaiting_shipment",
        None,
        0,
    )
    assert await inventory(api, sku) == stock_before
    # The vendor can still ship with its own carrier.
    shipped = await api.post(
        f"/v1/vendor/orders/{vendor_order_id}/ship",
        json={"carrier": "ups", "tracking_number": "1ZCAD"},
        headers=seller.auth,
    )
    assert shipped.status_code == 200, shipped.text
    assert shipped.json()["status"] == "shipped"
