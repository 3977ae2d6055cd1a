"""The refusals random cases rarely reach, made on purpose over HTTP, are each declared in
the OpenAPI document for the route that answered them: status, content type, and a body its
schema accepts (the `code` narrowed to that route's codes). Schemathesis covers the rest
(tests/e2e/test_openapi_schemathesis.py); the source scan covers what no test answers
(tests/unit/test_openapi_contract.py)."""

from __future__ import annotations

from typing import Any

import httpx
from jsonschema import Draft202012Validator

from stores.api_keys import MOST_KEYS_PER_VENDOR
from tests.e2e.client import OPS, PLATFORM, onboard, order_body, place, stock_product


async def conforms(api: httpx.AsyncClient, method: str, path: str, answer: httpx.Response) -> str:
    """The answer's code, once it is shown to be one the document declares for the route."""
    document = (await api.get("/openapi.json")).json()
    responses = document["paths"][path][method.lower()]["responses"]
    assert str(answer.status_code) in responses, (method, path, answer.status_code)
    content = responses[str(answer.status_code)]["content"]
    media_type = answer.headers["content-type"].split(";")[0]
    assert media_type in content, (method, path, media_type)
    schema: dict[str, Any] = {
        **content[media_type]["schema"],
        "components": document["components"],
    }
    body = answer.json()
    errors = [e.message for e in Draft202012Validator(schema).iter_errors(body)]
    assert errors == [], (method, path, body)
    return str(body.get("code", ""))


async def test_checkout_refusals_are_declared_problems(api: httpx.AsyncClient) -> None:
    seller = await onboard(api, "Declared")
    sku = await stock_product(api, seller, price_cents=1200, on_hand=1)

    short = await place(api, order_body([(sku, 2)]))
    declined = await place(api, order_body([(sku, 1)], "pm_card_visa_chargeDeclined"))
    unknown = await place(api, order_body([("NO-SUCH-SKU", 1)]))

    assert await conforms(api, "POST", "/v1/orders", short) == "insufficient_stock"
    assert short.json()["items"] == [{"sku": sku, "requested": 2, "available": 1}]
    assert await conforms(api, "POST", "/v1/orders", declined) == "payment_declined"
    assert await conforms(api, "POST", "/v1/orders", unknown) == "validation_error"


async def test_state_conflicts_after_shipping_are_declared_problems(
    api: httpx.AsyncClient,
) -> None:
    seller = await onboard(api, "Shipped")
    sku = await stock_product(api, seller, price_cents=1200, on_hand=2)
    placed = await place(api, order_body([(sku, 1)]))
    assert await conforms(api, "POST", "/v1/orders", placed) == ""
    order = placed.json()
    vendor_order = order["vendor_orders"][0]["id"]
    ship_path = "/v1/vendor/orders/{vendor_order_id}/ship"
    parcel = {"carrier": "ups", "tracking_number": "1Z-DECLARED"}

    shipped = await api.post(
        f"/v1/vendor/orders/{vendor_order}/ship", json=parcel, headers=seller.auth
    )
    again = await api.post(
        f"/v1/vendor/orders/{vendor_order}/ship",
        json={**parcel, "tracking_number": "1Z-OTHER"},
        headers=seller.auth,
    )
    cancel = await api.post(f"/v1/orders/{order['id']}/cancel", headers=PLATFORM)

    assert await conforms(api, "POST", ship_path, shipped) == ""
    assert shipped.json()["status"] == "shipped"
    assert await conforms(api, "POST", ship_path, again) == "invalid_state"
    assert await conforms(api, "POST", "/v1/orders/{order_id}/cancel", cancel) == "invalid_state"


async def test_key_stock_and_size_refusals_are_declared_problems(
    api: httpx.AsyncClient,
) -> None:
    seller = await onboard(api, "Keys")
    sku = await stock_product(api, seller, price_cents=1200, on_hand=1)
    held = await place(api, order_body([(sku, 1)]))
    assert held.status_code == 201, held.text
    (key,) = (await api.get("/v1/vendor/keys", headers=seller.auth)).json()["data"]

    last = await api.delete(f"/v1/vendor/keys/{key['id']}", headers=seller.auth)
    below_reserved = await api.put(
        f"/v1/inventory/{sku}/{seller.warehouse_id}", json={"on_hand": 0}, headers=OPS
    )
    too_large = await api.post(
        "/v1/products",
        content=b'{"title": "' + b"x" * (1024 * 1024 + 1) + b'"}',
        headers={**OPS, "Content-Type": "application/json"},
    )
    duplicate = await api.post(
        "/v1/products",
        json={
            "vendor_id": seller.id,
            "sku": sku,
            "title": "Again",
            "price_cents": 100,
            "currency": "usd",
            "weight_grams": 10,
        },
        headers=OPS,
    )

    assert await conforms(api, "DELETE", "/v1/vendor/keys/{key_id}", last) == "last_api_key"
    stock_path = "/v1/inventory/{sku}/{warehouse_id}"
    assert await conforms(api, "PUT", stock_path, below_reserved) == "invalid_state"
    assert await conforms(api, "POST", "/v1/products", too_large) == "payload_too_large"
    assert await conforms(api, "POST", "/v1/products", duplicate) == "invalid_state"


async def test_a_key_past_a_vendors_most_is_a_declared_conflict(api: httpx.AsyncClient) -> None:
    """Found undeclared by the source scan and by schemathesis (409 on POST /v1/vendor/keys)."""
    seller = await onboard(api, "Manykeys")
    for number in range(MOST_KEYS_PER_VENDOR - 1):
        made = await api.post("/v1/vendor/keys", json={"name": f"k{number}"}, headers=seller.auth)
        assert made.status_code == 201, made.text
    over = await api.post("/v1/vendor/keys", json={"name": "one too many"}, headers=seller.auth)
    assert await conforms(api, "POST", "/v1/vendor/keys", over) == "invalid_state"
    live = (await api.get("/v1/vendor/keys", headers=seller.auth)).json()
    assert len(live["data"]) == MOST_KEYS_PER_VENDOR and not live["has_more"]


async def test_a_label_from_a_warehouse_without_a_street_is_a_declared_problem(
    api: httpx.AsyncClient,
) -> None:
    seller = await onboard(api, "Streetless")
    warehouse_path = "/v1/vendors/{vendor_id}/warehouses"
    bare = {
        "name": "Lot",
        "postal_code": "10001",
        "country": "US",
        "latitude": 40,
        "longitude": -74,
    }
    created = await api.post(f"/v1/vendors/{seller.id}/warehouses", json=bare, headers=seller.auth)
    assert await conforms(api, "POST", warehouse_path, created) == ""
    seller.warehouse_id = created.json()["id"]
    sku = await stock_product(api, seller, price_cents=1200, on_hand=1)
    vendor_order = (await place(api, order_body([(sku, 1)]))).json()["vendor_orders"][0]["id"]
    label = {
        "purchase_label": True,
        "parcel": {"length_cm": 20, "width_cm": 10, "height_cm": 5, "weight_grams": 300},
    }

    refused = await api.post(
        f"/v1/vendor/orders/{vendor_order}/ship", json=label, headers=seller.auth
    )
    patched = await api.patch(
        f"/v1/vendors/{seller.id}/warehouses/{seller.warehouse_id}",
        json={"address_line1": "1 Main St", "city": "New York", "state": "NY"},
        headers=seller.auth,
    )

    ship_path = "/v1/vendor/orders/{vendor_order_id}/ship"
    assert await conforms(api, "POST", ship_path, refused) == "warehouse_address_incomplete"
    patch_path = "/v1/vendors/{vendor_id}/warehouses/{warehouse_id}"
    assert await conforms(api, "PATCH", patch_path, patched) == ""
    assert patched.json()["missing_for_labels"] == []
