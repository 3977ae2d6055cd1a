"""Roles, bad input and operator visibility, over HTTP. A refused request changes nothing."""

from __future__ import annotations

import asyncio

import httpx
from temporalio.client import Client

from devstack.stack import DevStack
from domain.ids import order_id_for_idempotency_key
from temporal.client import connect
from tests.e2e.client import (
    OPS,
    PLATFORM,
    bearer,
    inventory,
    onboard,
    order_body,
    place,
    stock_product,
    unique,
)


def is_problem(answer: httpx.Response, status: int, code: str) -> bool:
    body = answer.json()
    return (
        answer.status_code == status
        and answer.headers["content-type"].startswith("application/problem+json")
        and body["status"] == status
        and body["code"] == code
        and bool(body["detail"])
    )


async def test_health_answers_once_database_redis_and_temporal_answer(
    api: httpx.AsyncClient,
) -> None:
    answer = await api.get("/healthz")
    assert (answer.status_code, answer.json()) == (200, {"status": "ok"})


async def test_the_openapi_document_describes_the_contract(api: httpx.AsyncClient) -> None:
    paths = (await api.get("/openapi.json")).json()["paths"]
    for path in (
        "/v1/vendors",
        "/v1/vendors/{vendor_id}",
        "/v1/vendors/{vendor_id}/warehouses",
        "/v1/products",
        "/v1/products/{sku}",
        "/v1/inventory/{sku}/{warehouse_id}",
        "/v1/inventory/{sku}",
        "/v1/orders",
        "/v1/orders/{order_id}",
        "/v1/vendor/orders",
        "/v1/vendor/orders/{vendor_order_id}",
        "/v1/vendor/orders/{vendor_order_id}/ship",
        "/v1/vendor/orders/{vendor_order_id}/deliver",
    ):
        assert path in paths, path


async def test_calls_without_a_valid_key_are_unauthorized(api: httpx.AsyncClient) -> None:
    assert is_problem(await api.get("/v1/products/ANY"), 401, "unauthorized")
    assert is_problem(
        await api.get("/v1/products/ANY", headers=bearer("vk_not-a-key")), 401, "unauthorized"
    )


async def test_each_role_reaches_only_its_own_calls(api: httpx.AsyncClient) -> None:
    seller = await onboard(api, "Roles")
    vendors_before = (await api.get(f"/v1/vendors/{seller.id}", headers=OPS)).json()
    assert is_problem(
        await api.post(
            "/v1/vendors", json={"name": "X", "email": "x@example.com"}, headers=PLATFORM
        ),
        403,
        "forbidden",
    )
    assert is_problem(
        await api.post(
            "/v1/vendors", json={"name": "X", "email": "x@example.com"}, headers=seller.auth
        ),
        403,
        "forbidden",
    )
    assert is_problem(await api.get("/v1/vendor/orders", headers=PLATFORM), 403, "forbidden")
    assert is_problem(
        await api.post(
            "/v1/orders",
            json=order_body([("ANY", 1)]),
            headers={**seller.auth, "Idempotency-Key": "k"},
        ),
        403,
        "forbidden",
    )
    assert (await api.get(f"/v1/vendors/{seller.id}", headers=seller.auth)).json() == vendors_before


async def test_a_vendor_cannot_see_or_touch_another_vendors_stock_or_sub_orders(
    api: httpx.AsyncClient,
) -> None:
    owner, other = await onboard(api, "Owner"), await onboard(api, "Other")
    sku = await stock_product(api, owner, price_cents=1500, on_hand=3)
    placed = await place(api, order_body([(sku, 1)]))
    vendor_order_id = placed.json()["vendor_orders"][0]["id"]

    assert is_problem(
        await api.get(f"/v1/vendors/{owner.id}", headers=other.auth), 404, "not_found"
    )
    assert is_problem(
        await api.get(f"/v1/vendor/orders/{vendor_order_id}", headers=other.auth), 404, "not_found"
    )
    assert is_problem(
        await api.post(
            f"/v1/vendor/orders/{vendor_order_id}/ship",
            json={"carrier": "ups", "tracking_number": "STOLEN"},
            headers=other.auth,
        ),
        404,
        "not_found",
    )
    assert (await api.get("/v1/vendor/orders", headers=other.auth)).json()["data"] == []
    impostor = await api.post(
        "/v1/products",
        json={
            "vendor_id": owner.id,
            "sku": "IMPOSTOR-1",
            "title": "Not mine",
            "price_cents": 100,
            "currency": "usd",
            "weight_grams": 1,
        },
        headers=other.auth,
    )
    # 404 as for every other vendor's resource: the answer does not say the vendor exists.
    assert is_problem(impostor, 404, "not_found")
    assert is_problem(await api.get("/v1/products/IMPOSTOR-1", headers=OPS), 404, "not_found")
    assert is_problem(
        await api.put(
            f"/v1/inventory/{sku}/{owner.warehouse_id}", json={"on_hand": 99}, headers=other.auth
        ),
        404,
        "not_found",
    )
    mine = (await api.get(f"/v1/vendor/orders/{vendor_order_id}", headers=owner.auth)).json()
    assert (mine["status"], mine["tracking_number"]) == ("awaiting_shipment", None)
    assert (await inventory(api, sku))["on_hand"] == 3


async def test_stock_cannot_be_set_below_what_is_reserved(api: httpx.AsyncClient) -> None:
    seller = await onboard(api, "Reserved")
    sku = await stock_product(api, seller, price_cents=1000, on_hand=5)
    assert (await place(api, order_body([(sku, 4)]))).status_code == 201
    refused = await api.put(
        f"/v1/inventory/{sku}/{seller.warehouse_id}", json={"on_hand": 3}, headers=seller.auth
    )
    assert is_problem(refused, 409, "invalid_state")
    level = await inventory(api, sku)
    assert (level["on_hand"], level["reserved"], level["available"]) == (5, 4, 1)


async def test_bad_checkout_input_is_refused_clearly_and_starts_nothing(
    api: httpx.AsyncClient, stack: DevStack
) -> None:
    seller = await onboard(api, "Strict")
    sku = await stock_product(api, seller, price_cents=1000, on_hand=5)
    no_key = await api.post("/v1/orders", json=order_body([(sku, 1)]), headers=PLATFORM)
    assert is_problem(no_key, 422, "validation_error")
    zero = order_body([(sku, 0)])
    assert is_problem(await place(api, zero), 422, "validation_error")
    key = unique("checkout")
    unknown = await place(api, order_body([("NO-SUCH-SKU", 1)]), key)
    assert is_problem(unknown, 422, "validation_error")
    assert unknown.json()["skus"] == ["NO-SUCH-SKU"]
    order_id = order_id_for_idempotency_key("platform", key)
    assert is_problem(await api.get(f"/v1/orders/{order_id}", headers=PLATFORM), 404, "not_found")
    assert (await inventory(api, sku))["reserved"] == 0


async def test_operators_find_orders_by_status_customer_and_vendor_in_temporal(
    api: httpx.AsyncClient, stack: DevStack
) -> None:
    seller = await onboard(api, "Visible")
    sku = await stock_product(api, seller, price_cents=1000, on_hand=5)
    body = order_body([(sku, 1)])
    order = (await place(api, body)).json()
    client: Client = await connect(stack.env["TEMPORAL_ADDRESS"])
    query = (
        f'OrderStatus = "confirmed" AND CustomerId = "{body["customer_id"]}" '
        f'AND VendorIds = "{seller.id}"'
    )
    vendor_query = f'VendorId = "{seller.id}" AND OrderStatus = "awaiting_shipment"'
    found: list[str] = []
    vendor_found: list[str] = []
    for _ in range(40):  # visibility is eventually consistent
        found = [wf.id async for wf in client.list_workflows(query)]
        vendor_found = [wf.id async for wf in client.list_workflows(vendor_query)]
        if found and vendor_found:
            break
        await asyncio.sleep(0.25)
    assert found == [order["workflow_id"]]
    assert vendor_found == [order["vendor_orders"][0]["workflow_id"]]
