"""Refusals that happen before any route runs, through the real app in-process (nothing is
read or written: these requests never reach a dependency). Each answer is problem+json whose
`status` is the HTTP status."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from api.app import create_app
from models.settings import DEV_OPS_KEY, Settings

OPS = {"Authorization": f"Bearer {DEV_OPS_KEY}"}


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(Settings())
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as client:
        yield client


def problem(answer: httpx.Response) -> dict[str, Any]:
    assert answer.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = answer.json()
    assert body["status"] == answer.status_code
    return body


async def test_a_method_a_route_does_not_take_is_405_naming_the_methods_it_takes(
    client: httpx.AsyncClient,
) -> None:
    answer = await client.delete("/v1/products/BRAKE-01", headers=OPS)
    assert answer.status_code == 405
    assert problem(answer)["code"] == "method_not_allowed"
    assert answer.headers["allow"] == "GET"


@pytest.mark.parametrize(
    "body",
    [b'{"sku": "\xff"}', b"[" * 100_000],
    ids=["not UTF-8", "nested past the parser's depth"],
)
async def test_a_body_that_cannot_be_parsed_is_400_and_says_400(
    client: httpx.AsyncClient, body: bytes
) -> None:
    answer = await client.post(
        "/v1/products", content=body, headers={**OPS, "content-type": "application/json"}
    )
    assert answer.status_code == 400
    assert problem(answer)["code"] == "bad_request"


async def test_an_unknown_path_is_404_not_found(client: httpx.AsyncClient) -> None:
    answer = await client.get("/v1/nowhere", headers=OPS)
    assert (answer.status_code, problem(answer)["code"]) == (404, "not_found")


@pytest.mark.parametrize(
    ("method", "url", "headers", "loc"),
    [
        ("GET", "/v1/products/A%00B", {}, ["path", "sku"]),
        ("PUT", "/v1/inventory/SKU/wh%00", {}, ["path", "warehouse_id"]),
        ("GET", "/v1/ops/orders?vendor_id=ven%00", {}, ["query", "vendor_id"]),
        ("GET", "/v1/ops/orders?%00=1", {}, ["query", "\x00"]),
        ("POST", "/v1/orders", {"Idempotency-Key": "k\x00"}, ["header", "idempotency-key"]),
    ],
)
async def test_a_nul_in_a_path_query_or_header_is_422_naming_where_it_is(
    client: httpx.AsyncClient, method: str, url: str, headers: dict[str, str], loc: list[str]
) -> None:
    answer = await client.request(method, url, headers={**OPS, **headers}, json={})
    assert answer.status_code == 422
    body = problem(answer)
    assert body["code"] == "validation_error"
    assert [error["loc"] for error in body["errors"]] == [loc]
    assert body["errors"][0]["msg"] == "must not contain the NUL character (U+0000)"


@pytest.mark.parametrize(
    ("url", "body", "loc"),
    [
        # A route whose own model does not check its text: the edge does.
        ("/v1/ops/vendor-orders/vo_1/reroute", b'{"warehouse_id": "\\u0000"}', ["warehouse_id"]),
        (
            "/v1/products",
            b'{"title": "ok", "price_tiers": [{"x": "\\ud800"}]}',
            ["price_tiers", 0, "x"],
        ),
        (
            "/v1/webhooks/stripe",
            b'{"data": {"object": {"a\\u0000": 1}}}',
            ["data", "object", "a\x00"],
        ),
        ("/v1/products", '{"title": "\udfff"}'.encode("utf-8", "surrogatepass"), ["title"]),
    ],
    ids=["reroute NUL", "nested surrogate escape", "NUL in a key", "raw UTF-8 surrogate"],
)
async def test_text_no_column_can_hold_anywhere_in_a_json_body_is_422_naming_where(
    client: httpx.AsyncClient, url: str, body: bytes, loc: list[Any]
) -> None:
    answer = await client.post(
        url, content=body, headers={**OPS, "content-type": "application/json"}
    )
    assert answer.status_code == 422, answer.text
    problem_body = problem(answer)
    assert [error["loc"] for error in problem_body["errors"]] == [["body", *loc]]


async def test_a_body_with_an_escaped_backslash_before_u0000_is_not_taken_for_a_nul(
    client: httpx.AsyncClient,
) -> None:
    # JSON "\\u0000" is a backslash and "u0000": storable, so the route decides (here:
    # 405, as DELETE is not a method of this route), not the guard.
    answer = await client.request(
        "DELETE", "/v1/products/X", content=b'{"note": "\\\\u0000"}', headers=OPS
    )
    assert (answer.status_code, problem(answer)["code"]) == (405, "method_not_allowed")
