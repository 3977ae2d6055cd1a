"""A label leaves from the warehouse's real street address (docs/warehouse-addresses.md).

Labels once took the warehouse's name as the street and its postal code as the city; the
Shippo emulator now refuses such an address at purchase, as Shippo's carriers do. A warehouse
without a street address (created with the first body, which still works) cannot have a label
bought from it: the vendor is told which fields to set, sets them, and buys the label; shipping
with its own carrier and tracking number never needs the address."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from devstack.stack import DevStack
from tests.e2e.client import (
    EAST_ADDRESS,
    OPS,
    Seller,
    bearer,
    inventory,
    onboard,
    order_body,
    place,
    stock_product,
)
from tests.e2e.pages import every_item

PARCEL = {"length_cm": 30, "width_cm": 20, "height_cm": 10, "weight_grams": 1200}
# The body warehouses were created with before they had a street address.
BARE = {
    "name": "Back lot",
    "postal_code": "10001",
    "country": "US",
    "latitude": 40.75,
    "longitude": -73.99,
}


@pytest.fixture
async def shippo(stack: DevStack) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        base_url=stack.env["SHIPPO_API_BASE"],
        headers={"Authorization": f"ShippoToken {stack.env['SHIPPO_API_KEY']}"},
        timeout=30,
    ) as client:
        yield client


async def labels_for(shippo: httpx.AsyncClient, vendor_order_id: str) -> list[dict[str, Any]]:
    found = await shippo.get(
        "/_emulator/transactions", params={"metadata": f"vendor_order:{vendor_order_id}"}
    )
    assert found.status_code == 200, found.text
    return list(found.json()["results"])


async def sender_of(shippo: httpx.AsyncClient, label: dict[str, Any]) -> dict[str, Any]:
    """The address_from of the shipment the label was bought for, as Shippo keeps it."""
    rate = await shippo.get(f"/rates/{label['rate']}")
    assert rate.status_code == 200, rate.text
    shipment = await shippo.get(f"/shipments/{rate.json()['shipment']}")
    assert shipment.status_code == 200, shipment.text
    return dict(shipment.json()["address_from"])


async def bare_warehouse_seller(api: httpx.AsyncClient, name: str) -> Seller:
    """A vendor whose stock is in a warehouse created with the first body: no street."""
    seller = await onboard(api, name)
    created = await api.post(f"/v1/vendors/{seller.id}/warehouses", json=BARE, headers=seller.auth)
    assert created.status_code == 201, created.text
    assert created.json()["missing_for_labels"] == ["address_line1", "city", "state"]
    assert created.json()["address_line1"] is None
    return dataclasses.replace(seller, warehouse_id=created.json()["id"])


async def ordered(api: httpx.AsyncClient, seller: Seller) -> tuple[str, str]:
    """(sku, vendor order id) of one unit ordered from the seller's warehouse."""
    sku = await stock_product(api, seller, price_cents=2500, on_hand=3)
    placed = await place(api, order_body([(sku, 1)]))
    assert placed.status_code == 201, placed.text
    return sku, placed.json()["vendor_orders"][0]["id"]


async def test_a_label_leaves_from_the_warehouses_street_address_not_its_name(
    api: httpx.AsyncClient, shippo: httpx.AsyncClient
) -> None:
    # Given a vendor whose warehouse has a street address, and an order from it
    seller = await onboard(api, "Streets")
    _, vendor_order_id = await ordered(api, seller)

    # When the vendor buys a label
    shipped = await api.post(
        f"/v1/vendor/orders/{vendor_order_id}/ship",
        json={"purchase_label": True, "parcel": PARCEL},
        headers=seller.auth,
    )

    # Then it is bought, and Shippo was given the street, city and state, not the name
    assert shipped.status_code == 200, shipped.text
    assert shipped.json()["status"] == "shipped"
    [label] = await labels_for(shippo, vendor_order_id)
    assert label["status"] == "SUCCESS"
    sender = await sender_of(shippo, label)
    assert (sender["street1"], sender["city"], sender["state"], sender["zip"]) == (
        EAST_ADDRESS["address_line1"],
        EAST_ADDRESS["city"],
        EAST_ADDRESS["state"],
        "10001",
    )
    assert sender["name"] == "Streets"


async def test_no_label_from_a_warehouse_without_a_street_until_the_vendor_sets_it(
    api: httpx.AsyncClient, shippo: httpx.AsyncClient
) -> None:
    # Given an order from a warehouse created without a street address
    seller = await bare_warehouse_seller(api, "NoStreet")
    sku, vendor_order_id = await ordered(api, seller)
    ship = f"/v1/vendor/orders/{vendor_order_id}/ship"
    label = {"purchase_label": True, "parcel": PARCEL}

    # When the vendor asks for a label, it is refused with a stable code naming what to set,
    refused = await api.post(ship, json=label, headers=seller.auth)
    assert refused.status_code == 409, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    problem = refused.json()
    assert (problem["code"], problem["warehouse_id"], problem["missing"]) == (
        "warehouse_address_incomplete",
        seller.warehouse_id,
        ["address_line1", "city", "state"],
    )
    # and nothing changed: no label bought, the order still awaits shipment, its unit held
    assert await labels_for(shippo, vendor_order_id) == []
    mine = await api.get(f"/v1/vendor/orders/{vendor_order_id}", headers=seller.auth)
    assert (mine.json()["status"], mine.json()["label_cost_cents"]) == ("awaiting_shipment", 0)
    level = await inventory(api, sku)
    assert (level["on_hand"], level["reserved"]) == (3, 1)

    # Then once the vendor sets the warehouse's address, the same label is bought from it
    patched = await api.patch(
        f"/v1/vendors/{seller.id}/warehouses/{seller.warehouse_id}",
        json={**EAST_ADDRESS, "address_line2": "Dock 4", "phone": "+1 212 555 0100"},
        headers=seller.auth,
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["missing_for_labels"] == []
    assert (patched.json()["name"], patched.json()["postal_code"]) == ("Back lot", "10001")
    shipped = await api.post(ship, json=label, headers=seller.auth)
    assert shipped.status_code == 200, shipped.text
    assert shipped.json()["status"] == "shipped" and shipped.json()["tracking_number"]
    [bought] = await labels_for(shippo, vendor_order_id)
    sender = await sender_of(shippo, bought)
    assert (sender["street1"], sender["street2"], sender["phone"]) == (
        EAST_ADDRESS["address_line1"],
        "Dock 4",
        "+1 212 555 0100",
    )


async def test_a_vendor_shipping_with_its_own_tracking_needs_no_warehouse_street(
    api: httpx.AsyncClient, shippo: httpx.AsyncClient
) -> None:
    # Given an order from a warehouse without a street address
    seller = await bare_warehouse_seller(api, "OwnCarrier")
    _, vendor_order_id = await ordered(api, seller)

    # When the vendor ships it with its own carrier and tracking number
    shipped = await api.post(
        f"/v1/vendor/orders/{vendor_order_id}/ship",
        json={"carrier": "ups", "tracking_number": "1Z999AA10123456784"},
        headers=seller.auth,
    )

    # Then it is shipped, and no label was bought
    assert shipped.status_code == 200, shipped.text
    assert (shipped.json()["status"], shipped.json()["carrier"]) == ("shipped", "ups")
    assert await labels_for(shippo, vendor_order_id) == []


async def test_a_warehouse_address_is_changed_only_by_its_vendor_or_ops_and_only_validly(
    api: httpx.AsyncClient,
) -> None:
    seller = await bare_warehouse_seller(api, "Patched")
    other = await onboard(api, "Nosy")
    path = f"/v1/vendors/{seller.id}/warehouses/{seller.warehouse_id}"

    # Another vendor cannot reach it, by its vendor's id or by its own (404: no existence leak)
    assert (await api.patch(path, json={"city": "X"}, headers=other.auth)).status_code == 404
    hidden = f"/v1/vendors/{other.id}/warehouses/{seller.warehouse_id}"
    assert (await api.patch(hidden, json={"city": "X"}, headers=other.auth)).status_code == 404
    # A warehouse keeps its name; a blank or too long street line, or a bad phone, is refused
    for body in (
        {"name": None},
        {"address_line1": "   "},
        {"address_line1": "x" * 36},
        {"phone": "call me"},
        {"postal_code": "94105"},
    ):
        refused = await api.patch(path, json=body, headers=seller.auth)
        assert refused.status_code == 422, (body, refused.text)
        assert refused.json()["code"] == "validation_error"

    # Ops set it; null clears a field, fields not sent stay
    set_by_ops = await api.patch(
        path, json={"address_line1": " 5 Pier Rd ", "city": "Brooklyn", "state": "NY"}, headers=OPS
    )
    assert set_by_ops.status_code == 200, set_by_ops.text
    assert (set_by_ops.json()["address_line1"], set_by_ops.json()["missing_for_labels"]) == (
        "5 Pier Rd",
        [],
    )
    cleared = await api.patch(path, json={"state": None}, headers=seller.auth)
    assert cleared.status_code == 200, cleared.text
    assert (cleared.json()["city"], cleared.json()["state"]) == ("Brooklyn", None)
    assert cleared.json()["missing_for_labels"] == ["state"]


async def test_the_buyers_state_reaches_the_labels_recipient_address(
    api: httpx.AsyncClient, shippo: httpx.AsyncClient
) -> None:
    # Given an order whose shipping address names its state
    seller = await onboard(api, "ToAState")
    sku = await stock_product(api, seller, price_cents=2500, on_hand=3)
    body = order_body([(sku, 1)])
    body["shipping_address"] |= {"state": "NY", "line2": "Apt 4"}
    placed = await place(api, body)
    assert placed.status_code == 201, placed.text
    vendor_order_id = placed.json()["vendor_orders"][0]["id"]

    # When the vendor buys a label
    shipped = await api.post(
        f"/v1/vendor/orders/{vendor_order_id}/ship",
        json={"purchase_label": True, "parcel": PARCEL},
        headers=seller.auth,
    )

    # Then Shippo was given the buyer's state and second line
    assert shipped.status_code == 200, shipped.text
    [label] = await labels_for(shippo, vendor_order_id)
    rate = await shippo.get(f"/rates/{label['rate']}")
    shipment = await shippo.get(f"/shipments/{rate.json()['shipment']}")
    recipient = shipment.json()["address_to"]
    assert (recipient["state"], recipient["street2"], recipient["city"]) == (
        "NY",
        "Apt 4",
        "New York",
    )


async def test_a_vendor_lists_its_warehouses_page_by_page_with_what_labels_still_need(
    api: httpx.AsyncClient,
) -> None:
    # Given a vendor with a complete warehouse and two without a street, and another vendor
    seller = await bare_warehouse_seller(api, "Depots")
    extra = await api.post(f"/v1/vendors/{seller.id}/warehouses", json=BARE, headers=seller.auth)
    assert extra.status_code == 201, extra.text
    rival = await onboard(api, "DepotsRival")
    url = f"/v1/vendors/{seller.id}/warehouses"

    # When the vendor walks its list two at a time, each warehouse is seen once, by id, with
    # what a label from it still needs; an operator sees the same list
    walked = await every_item(api, url, bearer(seller.key), limit=2)
    assert [w["id"] for w in walked] == sorted(w["id"] for w in walked)
    assert len(walked) == 3 and {w["vendor_id"] for w in walked} == {seller.id}
    needs = sorted(len(w["missing_for_labels"]) for w in walked)
    assert needs == [0, 3, 3]
    assert await every_item(api, url, OPS, limit=2) == walked

    # And another vendor's list is not found for it, and a made-up cursor is a 422 problem
    foreign = await api.get(url, headers=rival.auth)
    assert foreign.status_code == 404, foreign.text
    bad = await api.get(url, params={"starting_after": "garbage!"}, headers=seller.auth)
    assert (bad.status_code, bad.json()["code"]) == (422, "validation_error")
