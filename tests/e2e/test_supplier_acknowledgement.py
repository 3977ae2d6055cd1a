"""Suppliers acknowledge, reject and substitute (issue 13): a vendor that acknowledges its
orders accepts each with its own reference or rejects it; a rejection moves the order to
another of its warehouses or cancels and refunds it, by the vendor's rule; an order nobody
answered in time is flagged ack_overdue. Through the API, on the real stack."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

import httpx

from tests.e2e.client import (
    OPS,
    PLATFORM,
    Seller,
    add_warehouse,
    inventory,
    onboard,
    order_body,
    place,
    stock_product,
)
from tests.e2e.money import eventually


async def supplier(api: httpx.AsyncClient, name: str, **rules: Any) -> Seller:
    return await onboard(api, name, email=f"{name.lower().replace(' ', '')}@example.com", **rules)


async def ordered(api: httpx.AsyncClient, sku: str, quantity: int = 2) -> dict[str, Any]:
    answer = await place(api, order_body([(sku, quantity)]))
    assert answer.status_code == 201, answer.text
    order: dict[str, Any] = answer.json()
    return order


async def answer(
    api: httpx.AsyncClient, seller: Seller, vendor_order_id: str, verb: str, body: dict[str, Any]
) -> httpx.Response:
    return await api.post(
        f"/v1/vendor/orders/{vendor_order_id}/{verb}", json=body, headers=seller.auth
    )


async def events(api: httpx.AsyncClient, order_id: str) -> list[dict[str, Any]]:
    found = (await api.get(f"/v1/orders/{order_id}", headers=PLATFORM)).json()
    return list(found["events"])


async def level(api: httpx.AsyncClient, sku: str, warehouse: str) -> tuple[int, int]:
    (found,) = [x for x in (await inventory(api, sku))["levels"] if x["warehouse_id"] == warehouse]
    return found["on_hand"], found["reserved"]


async def test_a_rejected_order_moves_to_another_warehouse_and_is_accepted_and_shipped_there(
    api: httpx.AsyncClient,
) -> None:
    seller = await supplier(api, "Reroute Parts", ack_sla="PT1H", on_reject="reroute")
    sku = await stock_product(api, seller, price_cents=1500, on_hand=5)
    west = await add_warehouse(api, seller)
    put = await api.put(f"/v1/inventory/{sku}/{west}", json={"on_hand": 4}, headers=seller.auth)
    assert put.status_code == 200, put.text
    order = await ordered(api, sku)
    vendor_order = order["vendor_orders"][0]
    first = vendor_order["lines"][0]["warehouse_id"]
    other = west if first == seller.warehouse_id else seller.warehouse_id
    assert vendor_order["ack_due_at"] is not None and vendor_order["supplier_order_ref"] is None

    rejected = await answer(
        api, seller, vendor_order["id"], "reject", {"reason": "out_of_stock", "note": "bin empty"}
    )

    assert rejected.status_code == 200, rejected.text
    moved = rejected.json()
    assert moved["status"] == "awaiting_shipment"
    assert [line["warehouse_id"] for line in moved["lines"]] == [other]
    # The held units moved with it: none left held at the first warehouse.
    assert (await level(api, sku, first))[1] == 0
    assert (await level(api, sku, other))[1] == 2
    # A new answer is due, from the warehouse it moved to.
    due = datetime.fromisoformat(moved["ack_due_at"])
    assert due > datetime.fromisoformat(vendor_order["ack_due_at"])
    said = [(e["type"], e.get("detail")) for e in await events(api, order["id"])]
    assert ("vendor_order.rejected", {"reason": "out_of_stock", "note": "bin empty"}) in said
    assert ("vendor_order.rerouted", {"warehouse_id": other, "reason": "out_of_stock"}) in said

    accepted = await answer(
        api, seller, vendor_order["id"], "accept", {"supplier_order_ref": "SUP-000123"}
    )
    assert accepted.status_code == 200, accepted.text
    taken = accepted.json()
    assert taken["supplier_order_ref"] == "SUP-000123"
    assert taken["ack_due_at"] is None and taken["accepted_at"] is not None
    # The same answer again is the same answer; another reference is refused.
    again = await answer(
        api, seller, vendor_order["id"], "accept", {"supplier_order_ref": "SUP-000123"}
    )
    assert again.status_code == 200, again.text
    other_ref = await answer(api, seller, vendor_order["id"], "accept", {"supplier_order_ref": "X"})
    assert other_ref.status_code == 409, other_ref.text
    assert other_ref.json()["code"] == "invalid_state"

    shipped = await answer(
        api, seller, vendor_order["id"], "ship", {"carrier": "ups", "tracking_number": "1Z9"}
    )
    assert shipped.status_code == 200, shipped.text
    assert (await level(api, sku, other)) == (2, 0)  # shipped from where it moved to
    assert (await level(api, sku, first)) == (5, 0)
    late = await answer(api, seller, vendor_order["id"], "reject", {"reason": "cannot_ship"})
    assert late.status_code == 409, late.text


async def test_a_rejection_by_a_vendor_that_cancels_refunds_the_buyer_and_frees_the_stock(
    api: httpx.AsyncClient,
) -> None:
    seller = await supplier(api, "Cancel Parts", ack_sla="PT1H")  # on_reject: cancel
    sku = await stock_product(api, seller, price_cents=2000, on_hand=3)
    order = await ordered(api, sku)
    vendor_order = order["vendor_orders"][0]

    rejected = await answer(api, seller, vendor_order["id"], "reject", {"reason": "cannot_ship"})

    assert rejected.status_code == 200, rejected.text
    cancelled = rejected.json()
    assert cancelled["status"] == "cancelled"
    assert cancelled["refunded_cents"] == order["total_cents"]
    assert (await inventory(api, sku))["reserved"] == 0
    said = {e["type"]: e.get("detail") for e in await events(api, order["id"])}
    assert said["vendor_order.cancelled"]["reason"] == "rejected_by_supplier:cannot_ship"
    assert said["vendor_order.cancelled"]["by"] == "vendor"


async def test_a_rejection_no_other_warehouse_can_hold_cancels_it(
    api: httpx.AsyncClient,
) -> None:
    seller = await supplier(api, "Thin Parts", ack_sla="PT1H", on_reject="reroute")
    sku = await stock_product(api, seller, price_cents=900, on_hand=3)
    west = await add_warehouse(api, seller)
    put = await api.put(f"/v1/inventory/{sku}/{west}", json={"on_hand": 1}, headers=seller.auth)
    assert put.status_code == 200, put.text
    order = await ordered(api, sku, quantity=2)  # the west warehouse holds 1: cannot take it
    vendor_order = order["vendor_orders"][0]

    rejected = await answer(api, seller, vendor_order["id"], "reject", {"reason": "out_of_stock"})

    assert rejected.status_code == 200, rejected.text
    assert rejected.json()["status"] == "cancelled"
    assert (await level(api, sku, west)) == (1, 0)
    assert (await inventory(api, sku))["reserved"] == 0


async def test_an_order_not_answered_within_the_ack_sla_is_flagged_until_the_supplier_answers(
    api: httpx.AsyncClient,
) -> None:
    seller = await supplier(api, "Slow Parts", ack_sla=2)
    sku = await stock_product(api, seller, price_cents=1200, on_hand=2)
    order = await ordered(api, sku, quantity=1)
    vendor_order_id = order["vendor_orders"][0]["id"]

    async def flagged() -> dict[str, Any] | None:
        found = await api.get(f"/v1/vendor/orders/{vendor_order_id}", headers=seller.auth)
        view: dict[str, Any] = found.json()
        return view if view["attention"] == "ack_overdue" else None

    await eventually(flagged)
    # Found by the usual query for what needs a person.
    stuck = await api.get("/v1/ops/orders?attention=ack_overdue&limit=200", headers=OPS)
    assert stuck.status_code == 200, stuck.text
    assert order["id"] in {found["id"] for found in stuck.json()["data"]}
    accepted = await answer(api, seller, vendor_order_id, "accept", {"supplier_order_ref": "L-1"})
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["attention"] is None


async def test_supplier_answers_that_make_no_sense_are_refused_and_change_nothing(
    api: httpx.AsyncClient,
) -> None:
    seller = await supplier(api, "Strict Parts", ack_sla="PT1H", on_reject="reroute")
    stranger = await supplier(api, "Stranger Parts")
    sku = await stock_product(api, seller, price_cents=700, on_hand=2)
    order = await ordered(api, sku, quantity=1)
    vendor_order_id = order["vendor_orders"][0]["id"]
    refusals = [
        ("reject", {"reason": "bored"}, seller, 422),
        ("reject", {"reason": "other", "surprise": 1}, seller, 422),
        ("accept", {"supplier_order_ref": ""}, seller, 422),
        ("accept", {}, seller, 422),
        ("accept", {"supplier_order_ref": "S-1"}, stranger, 404),
        ("reject", {"reason": "other"}, stranger, 404),
    ]
    for verb, body, who, status in refusals:
        refused = await answer(api, who, vendor_order_id, verb, body)
        assert refused.status_code == status, (verb, body, refused.text)
        assert refused.headers["content-type"].startswith("application/problem+json")
    await asyncio.sleep(0.2)
    view = (await api.get(f"/v1/vendor/orders/{vendor_order_id}", headers=seller.auth)).json()
    assert (view["status"], view["supplier_order_ref"]) == ("awaiting_shipment", None)
    assert [e["type"] for e in await events(api, order["id"]) if "ject" in e["type"]] == []


async def test_a_vendor_setting_an_ack_sla_is_shown_and_can_be_turned_off(
    api: httpx.AsyncClient,
) -> None:
    seller = await supplier(api, "Setting Parts", ack_sla="PT4H", on_reject="reroute")
    shown = (await api.get(f"/v1/vendors/{seller.id}", headers=seller.auth)).json()
    assert (shown["ack_sla"], shown["on_reject"]) == ("PT4H", "reroute")
    bad = await api.patch(
        f"/v1/vendors/{seller.id}", json={"on_reject": "shrug"}, headers=seller.auth
    )
    assert bad.status_code == 422, bad.text
    off = await api.patch(f"/v1/vendors/{seller.id}", json={"ack_sla": None}, headers=seller.auth)
    assert off.status_code == 200, off.text
    assert off.json()["ack_sla"] is None
    sku = await stock_product(api, seller, price_cents=800, on_hand=1)
    order = await ordered(api, sku, quantity=1)
    assert order["vendor_orders"][0]["ack_due_at"] is None


async def test_a_rejection_racing_a_shipment_leaves_exactly_one_of_them_done(
    api: httpx.AsyncClient,
) -> None:
    seller = await supplier(api, "Racing Parts", ack_sla="PT1H")  # on_reject: cancel
    sku = await stock_product(api, seller, price_cents=1100, on_hand=6)
    for _ in range(3):
        order = await ordered(api, sku, quantity=1)
        vendor_order_id = order["vendor_orders"][0]["id"]
        shipped, rejected = await asyncio.gather(
            answer(
                api, seller, vendor_order_id, "ship", {"carrier": "ups", "tracking_number": "1R"}
            ),
            answer(api, seller, vendor_order_id, "reject", {"reason": "cannot_ship"}),
        )
        statuses = sorted([shipped.status_code, rejected.status_code])
        assert statuses == [200, 409], (shipped.text, rejected.text)
        view = (await api.get(f"/v1/vendor/orders/{vendor_order_id}", headers=seller.auth)).json()
        if shipped.status_code == 200:
            assert (view["status"], view["refunded_cents"]) == ("shipped", 0)
        else:
            assert view["status"] == "cancelled"
            assert view["refunded_cents"] == order["total_cents"]
    # Every unit is either shipped or back on sale: none held for an order that cannot ship.
    assert (await inventory(api, sku))["reserved"] == 0
