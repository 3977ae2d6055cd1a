"""A checkout refused by the gate is looked up in the order store before the refusal stands;
a crowd of refusals shares one query, and a store that cannot answer in time leaves the
refusal standing (api/known_orders.py)."""

from __future__ import annotations

import asyncio
import time
import uuid

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.testing import ActivityEnvironment

from activities.orders import OrderStoreActivities
from api.known_orders import KnownOrders
from stores.db import make_engine, make_sessionmaker
from tests.store_helpers import create_request


async def test_a_crowd_of_lookups_shares_one_query_and_each_gets_its_own_answer(
    order_store: OrderStoreActivities, sessions: async_sessionmaker[AsyncSession]
) -> None:
    recorded = [create_request() for _ in range(3)]
    for request in recorded:
        await ActivityEnvironment().run(order_store.create, request)
    existing = [r.order.order_id for r in recorded]
    new = [f"ord_{uuid.uuid4().hex[:16]}" for _ in range(60)]
    known = KnownOrders(sessions)
    asked = existing + new + existing  # the same id asked twice at once, too
    answers = await asyncio.gather(*(known.exists(i, within=5) for i in asked))
    assert answers == [True] * 3 + [False] * 60 + [True] * 3
    assert known.queries == 1


async def test_a_store_that_does_not_answer_in_time_leaves_the_refusal_standing() -> None:
    async def never_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # accepts the connection, says nothing

    silent = await asyncio.start_server(never_answer, "127.0.0.1", 0)
    port = silent.sockets[0].getsockname()[1]
    engine = make_engine(f"postgresql+psycopg://u:p@127.0.0.1:{port}/db", pool_size=1)
    try:
        known = KnownOrders(make_sessionmaker(engine))
        started = time.perf_counter()
        assert await known.exists("ord_x", within=0.3) is None
        assert time.perf_counter() - started < 1.0
        await known.close()  # the query itself gives up too
        assert time.perf_counter() - started < 3.0
    finally:
        await engine.dispose()
        silent.close()


async def test_a_store_that_is_down_leaves_the_refusal_standing() -> None:
    probe = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = probe.sockets[0].getsockname()[1]
    probe.close()
    await probe.wait_closed()  # nothing listens there any more
    engine = make_engine(f"postgresql+psycopg://u:p@127.0.0.1:{port}/db", pool_size=1)
    known = KnownOrders(make_sessionmaker(engine))
    try:
        assert await known.exists("ord_x", within=3) is None
    finally:
        await known.close()
        await engine.dispose()
