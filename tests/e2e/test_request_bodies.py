"""Request bodies through the running API: larger than FULFILLMENT_MAX_BODY_BYTES (1 MiB) is 413
`payload_too_large` on every route, whether the size is declared or not; a field the contract
does not know is 422 naming it. Either way nothing changes."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx

from api.body_limit import LARGER_BODIES
from devstack.stack import DevStack
from tests.conftest import E2E_FEED_MAX_BYTES
from tests.e2e.client import OPS, PLATFORM, onboard, order_body, place, stock_product
from tests.e2e.snapshot import connect, snapshot

MIB = 1024 * 1024
VENDOR = {"name": "Bulky", "email": "bulky@example.com"}


def too_large(answer: httpx.Response, limit: int = MIB) -> None:
    assert answer.status_code == 413, answer.text[:300]
    assert answer.headers["content-type"] == "application/problem+json"
    body = answer.json()
    assert (body["status"], body["code"], body["max_bytes"]) == (413, "payload_too_large", limit)


def unknown_field(answer: httpx.Response, *loc: str | int) -> None:
    assert answer.status_code == 422, answer.text
    body = answer.json()
    assert (body["status"], body["code"]) == (422, "validation_error")
    assert {"loc": ["body", *loc], "msg": "Extra inputs are not permitted",
            "type": "extra_forbidden"} in body["errors"]  # fmt: skip


async def test_a_five_megabyte_unknown_field_is_refused_413_and_creates_no_vendor(
    stack: DevStack, api: httpx.AsyncClient
) -> None:
    with connect(stack.env["DATABASE_URL"]) as db:
        before = snapshot(db, [])
        declared = await api.post(
            "/v1/vendors", json={**VENDOR, "padding": "x" * (5 * MIB)}, headers=OPS
        )
        # The same without Content-Length (chunked): counted as it arrives.
        chunked = await api.post(
            "/v1/vendors",
            content=_chunks(b'{"name": "Bulky", "padding": "' + b"x" * (5 * MIB) + b'"}'),
            headers={**OPS, "Content-Type": "application/json"},
        )
        assert snapshot(db, []) == before
    too_large(declared)
    too_large(chunked)
    assert "content-length" not in chunked.request.headers


async def test_a_small_unknown_field_is_refused_422_naming_it_and_creates_no_vendor(
    stack: DevStack, api: httpx.AsyncClient
) -> None:
    with connect(stack.env["DATABASE_URL"]) as db:
        before = snapshot(db, [])
        answer = await api.post("/v1/vendors", json={**VENDOR, "comission_bps": 500}, headers=OPS)
        assert snapshot(db, []) == before
    unknown_field(answer, "comission_bps")


async def test_an_unknown_field_deep_in_a_checkout_is_refused_and_holds_no_stock(
    stack: DevStack, api: httpx.AsyncClient
) -> None:
    seller = await onboard(api, "Strict")
    sku = await stock_product(api, seller, price_cents=1000, on_hand=3)
    body = order_body([(sku, 1)])
    body["shipping_address"]["floor"] = "3"
    body["lines"][0]["gift_wrap"] = True
    with connect(stack.env["DATABASE_URL"]) as db:
        before = snapshot(db, [seller.id])
        answer = await place(api, body)
        assert snapshot(db, [seller.id]) == before
    unknown_field(answer, "shipping_address", "floor")
    unknown_field(answer, "lines", 0, "gift_wrap")


async def test_every_route_that_takes_a_body_refuses_one_over_the_limit(
    api: httpx.AsyncClient,
) -> None:
    document = (await api.get("/openapi.json")).json()
    routes = sorted(_routes_with_bodies(document))
    # The provider webhooks read their raw bodies, declared nowhere in the document.
    routes += [("POST", "/v1/webhooks/stripe"), ("POST", "/v1/webhooks/shippo")]
    assert ("POST", "/v1/orders") in routes and ("PUT", "/v1/inventory/x/x") in routes
    oversized = b'{"x": "' + b"y" * (MIB + 1) + b'"}'
    for method, path in routes:
        # A bulk route (a stock feed) takes more: over its own limit instead.
        limit = E2E_FEED_MAX_BYTES if (method, path) in LARGER_BODIES else MIB
        body = oversized if limit == MIB else b"y" * (limit + 1)
        answer = await api.request(
            method,
            path,
            content=body,
            headers={**PLATFORM, "Content-Type": "application/json", "Idempotency-Key": "big"},
        )
        assert answer.status_code == 413, (method, path, answer.status_code)
        too_large(answer, limit)


def _routes_with_bodies(document: dict[str, Any]) -> Iterator[tuple[str, str]]:
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if "requestBody" in operation:
                yield method.upper(), re.sub(r"\{[^}]+\}", "x", path)


async def _chunks(data: bytes) -> Any:
    for start in range(0, len(data), 64 * 1024):
        yield data[start : start + 64 * 1024]
