"""When PostgreSQL, Redis or Temporal does not answer, the API says 503 `unavailable` with
Retry-After (never 500 `internal_error`), and changes nothing.

The session's stack is shared, so its servers are never stopped: each test builds its own app
(api.app.create_app) whose connection to one dependency goes through a port that is closed,
or through a proxy the test cuts, and drives it in-process.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit

import httpx

from api.app import create_app
from devstack import free_port
from devstack.stack import DevStack
from models.settings import Settings
from stores.db import connect_redis
from tests.e2e.client import OPS, PLATFORM, inventory, onboard, order_body, place, stock_product
from tests.e2e.snapshot import connect, snapshot
from tests.e2e.tcp_proxy import proxy_to


@asynccontextmanager
async def app_with(stack: DevStack, **env: str) -> AsyncIterator[httpx.AsyncClient]:
    # Traces off: an app built in the test process would instrument this process's HTTP
    # clients, and every later test's traceparent would be replaced by one of its own.
    app = create_app(Settings(**{**stack.env, "FULFILLMENT_TRACES": "off", **env}))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as client:
            yield client


def unavailable(answer: httpx.Response, what: str) -> None:
    assert answer.status_code == 503, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.headers["retry-after"] == "5"
    body: dict[str, Any] = answer.json()
    assert (body["status"], body["code"]) == (503, "unavailable")
    assert body["detail"] == f"{what} is not answering; retry in a few seconds"


async def test_with_postgresql_down_reads_and_writes_answer_503_with_retry_after(
    stack: DevStack, api: httpx.AsyncClient
) -> None:
    seller = await onboard(api, "Pgdown")
    closed = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/fulfillment"
    with connect(stack.env["DATABASE_URL"]) as db:
        before = snapshot(db, [seller.id])
        async with app_with(stack, DATABASE_URL=closed) as down:
            read = await down.get("/v1/products/ANY-SKU", headers=OPS)
            write = await down.post(
                f"/v1/vendors/{seller.id}/warehouses",
                json={
                    "name": "New",
                    "postal_code": "1",
                    "country": "US",
                    "latitude": 1,
                    "longitude": 1,
                },
                headers=seller.auth,
            )
        unavailable(read, "the database")
        unavailable(write, "the database")
        assert snapshot(db, [seller.id]) == before


async def test_with_redis_down_the_order_stream_answers_503_with_retry_after(
    stack: DevStack,
) -> None:
    redis = urlsplit(stack.env["REDIS_URL"])
    assert redis.hostname is not None and redis.port is not None
    async with proxy_to(redis.hostname, redis.port) as proxy:
        url = redis._replace(netloc=f"127.0.0.1:{proxy.port}").geturl()
        async with app_with(stack, REDIS_URL=url) as down:
            await proxy.cut()
            answer = await down.get("/v1/orders/ord_anything/stream", headers=PLATFORM)
    unavailable(answer, "Redis")


async def test_with_temporal_down_an_ops_refund_answers_503_and_moves_no_money(
    stack: DevStack, api: httpx.AsyncClient
) -> None:
    seller = await onboard(api, "Tmpdown")
    sku = await stock_product(api, seller, price_cents=3000, on_hand=5)
    placed = await place(api, order_body([(sku, 1)]))
    assert placed.status_code == 201, placed.text
    vendor_order = placed.json()["vendor_orders"][0]
    host, port = stack.env["TEMPORAL_ADDRESS"].rsplit(":", 1)
    with connect(stack.env["DATABASE_URL"]) as db:
        before = snapshot(db, [seller.id])
        async with proxy_to(host, int(port)) as proxy:
            async with app_with(stack, TEMPORAL_ADDRESS=f"127.0.0.1:{proxy.port}") as down:
                await proxy.cut()
                answer = await down.post(
                    f"/v1/ops/vendor-orders/{vendor_order['id']}/refunds",
                    json={"amount_cents": 500},
                    headers={**OPS, "Idempotency-Key": uuid.uuid4().hex},
                )
        unavailable(answer, "Temporal")
        assert snapshot(db, [seller.id]) == before
    order = (await api.get(f"/v1/orders/{placed.json()['id']}", headers=PLATFORM)).json()
    assert order["refunded_cents"] == 0


async def test_with_postgresql_down_a_sold_out_sku_is_still_refused_by_the_gate_in_milliseconds(
    stack: DevStack, api: httpx.AsyncClient
) -> None:
    # Given a product whose only unit was just sold (the gate in Redis knows it)
    seller = await onboard(api, "GateOnly")
    sku = await stock_product(api, seller, price_cents=1500, on_hand=1)
    assert (await place(api, order_body([(sku, 1)]))).status_code == 201
    closed = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/fulfillment"
    async with app_with(stack, DATABASE_URL=closed) as down:
        # When a buyer checks it out while PostgreSQL does not answer
        answer = await down.post(
            "/v1/orders",
            json=order_body([(sku, 1)]),
            headers={**PLATFORM, "Idempotency-Key": uuid.uuid4().hex},
        )
    # Then the gate refuses it on its own: the refusal needed no database (issue 10)
    assert answer.status_code == 409, answer.text
    assert answer.json()["code"] == "insufficient_stock"
    assert answer.json()["items"] == [{"sku": sku, "requested": 1, "available": 0}]


async def test_a_retry_of_a_placed_order_is_answered_from_the_order_store_never_by_a_new_saga(
    stack: DevStack, api: httpx.AsyncClient
) -> None:
    # Given a placed order, whose key the gate no longer remembers (a day later, or Redis
    # lost it) and whose workflow Temporal cannot reach (or no longer keeps: retention)
    seller = await onboard(api, "LateRetry")
    sku = await stock_product(api, seller, price_cents=1500, on_hand=5)
    body, key = order_body([(sku, 1)]), uuid.uuid4().hex
    placed = await api.post("/v1/orders", json=body, headers={**PLATFORM, "Idempotency-Key": key})
    assert placed.status_code == 201, placed.text
    redis = connect_redis(stack.env["REDIS_URL"])
    try:
        assert await redis.delete(*await redis.keys(f"*admitted:{placed.json()['id']}")) == 1
    finally:
        await redis.aclose()
    host, port = stack.env["TEMPORAL_ADDRESS"].rsplit(":", 1)
    async with proxy_to(host, int(port)) as proxy:
        async with app_with(stack, TEMPORAL_ADDRESS=f"127.0.0.1:{proxy.port}") as no_temporal:
            await proxy.cut()
            # When the storefront sends the same checkout again
            again = await no_temporal.post(
                "/v1/orders", json=body, headers={**PLATFORM, "Idempotency-Key": key}
            )
    # Then it gets the order it placed, from the order store: no saga was started again
    assert again.status_code == 201, again.text
    assert again.json()["id"] == placed.json()["id"]
    assert (await inventory(api, sku))["reserved"] == 1
