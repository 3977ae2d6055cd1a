"""A flash sale: many buyers for few units, some buying a bundle, with Redis flushed in the
middle. Never oversold; once the gate knows a SKU is sold out, checkouts are refused before
any workflow starts."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest
from redis.asyncio import Redis
from temporalio.service import RPCError

from devstack.stack import DevStack
from domain.ids import order_id_for_idempotency_key
from stores.stock_gate import StockGate
from temporal.client import connect
from tests.e2e.client import (
    PLATFORM,
    add_warehouse,
    inventory,
    onboard,
    order_body,
    place,
    stock_books_agree,
    stock_product,
)


async def test_a_flash_sale_with_redis_flushed_midway_never_oversells(
    api: httpx.AsyncClient, stack: DevStack
) -> None:
    seller = await onboard(api, "Flash")
    west = await add_warehouse(api, seller)
    hot = await stock_product(api, seller, price_cents=1000, on_hand=6)
    await api.put(f"/v1/inventory/{hot}/{west}", json={"on_hand": 4}, headers=seller.auth)
    extra = await stock_product(api, seller, price_cents=500, on_hand=3)
    redis = Redis.from_url(stack.env["REDIS_URL"])
    try:

        async def buyer(n: int) -> httpx.Response:
            lines = [(hot, 1), (extra, 1)] if n % 4 == 0 else [(hot, 1)]
            return await place(api, order_body(lines))

        first = [asyncio.create_task(buyer(n)) for n in range(20)]
        await asyncio.sleep(0.3)
        await redis.flushall()  # Redis loses everything in the middle of the sale
        rest = [asyncio.create_task(buyer(n)) for n in range(20, 40)]
        answers = await asyncio.gather(*first, *rest)
        assert {a.status_code for a in answers} <= {201, 409}
        confirmed = [a.json() for a in answers if a.status_code == 201]
        hot_sold = len(confirmed)
        extra_sold = sum(1 for o in confirmed if len(o["lines"]) == 2)
        assert hot_sold <= 10 and extra_sold <= 3
        assert (await inventory(api, hot))["reserved"] == hot_sold
        assert (await inventory(api, extra))["reserved"] == extra_sold

        # Buy what is left one by one: exactly the 10 units, then refusals.
        while (await inventory(api, hot))["available"] > 0:
            assert (await place(api, order_body([(hot, 1)]))).status_code == 201
        level = await inventory(api, hot)
        assert (level["on_hand"], level["reserved"], level["available"]) == (10, 10, 0)
        await stock_books_agree(stack.env["DATABASE_URL"], hot, extra)

        gate = StockGate(redis)
        for _ in range(40):  # the worker rebuilds it from PostgreSQL
            if await gate.is_built() and await gate.available(hot) == 0:
                break
            await asyncio.sleep(0.25)
        assert await gate.available(hot) == 0
        key = uuid.uuid4().hex
        refused = await place(api, order_body([(hot, 1)]), key)
        assert (refused.status_code, refused.json()["code"]) == (409, "insufficient_stock")
        order_id = order_id_for_idempotency_key("platform", key)
        temporal = await connect(stack.env["TEMPORAL_ADDRESS"])
        with pytest.raises(RPCError):
            await temporal.get_workflow_handle(f"order-{order_id}").describe()
        missing = await api.get(f"/v1/orders/{order_id}", headers=PLATFORM)
        assert missing.status_code == 404
    finally:
        await redis.aclose()
