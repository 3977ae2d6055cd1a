"""The Redis admission gate against a real Redis: it refuses sold-out SKUs at once, never
holds more than it was told, and keeps working when Redis forgets everything."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff

from devstack import RedisServer, free_port, start_redis
from stores.stock_gate import Admission, GateLine, GateShortage, StockGate

ADMITTED = Admission(admitted=True, shortages=[], known=True, held=True)


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = start_redis(tmp_path_factory.mktemp("gate-redis"), free_port())
    try:
        yield server
    finally:
        server.stop()


def connect(url: str) -> Redis:
    # Configured as a checkout API needs it: a flash sale's callers queue for a connection
    # instead of failing past the pool's size, and a connection broken by a Redis restart is
    # retried (`Redis.from_url` alone retries nothing); every gate script is safe to repeat.
    pool = BlockingConnectionPool.from_url(
        url, max_connections=20, timeout=10, retry=Retry(ExponentialBackoff(cap=0.5), 3)
    )
    return Redis.from_pool(pool)


@pytest.fixture
async def client(redis_server: RedisServer) -> AsyncIterator[Redis]:
    redis = connect(redis_server.url())
    try:
        yield redis
    finally:
        await redis.aclose()


@pytest.fixture
def gate(client: Redis) -> StockGate:
    # A namespace per test: tests share one server and never see each other's SKUs.
    return StockGate(client, namespace=f"gate-{uuid.uuid4().hex[:8]}")


def order() -> str:
    return f"order-{uuid.uuid4().hex[:8]}"


async def test_an_admitted_checkout_takes_its_units_off_the_count(gate: StockGate) -> None:
    await gate.rebuild({"MUG": (10, 1)})

    admission = await gate.admit(order(), [GateLine("MUG", 3)])

    assert admission == ADMITTED
    assert await gate.available("MUG") == 7


async def test_lines_of_the_same_sku_are_counted_together(gate: StockGate) -> None:
    await gate.rebuild({"MUG": (5, 1)})

    refused = await gate.admit(order(), [GateLine("MUG", 3), GateLine("MUG", 3)])
    admitted = await gate.admit(order(), [GateLine("MUG", 2), GateLine("MUG", 3)])

    assert refused == Admission(False, [GateShortage("MUG", 6, 5)], known=True)
    assert admitted == ADMITTED
    assert await gate.available("MUG") == 0


async def test_a_sold_out_sku_is_refused_with_its_shortage_and_nothing_changes(
    gate: StockGate,
) -> None:
    await gate.rebuild({"MUG": (2, 1)})

    admission = await gate.admit(order(), [GateLine("MUG", 3)])

    assert admission == Admission(False, [GateShortage("MUG", 3, 2)], known=True)
    assert await gate.available("MUG") == 2


async def test_an_order_with_one_short_sku_changes_neither_sku(gate: StockGate) -> None:
    await gate.rebuild({"MUG": (10, 1), "HAT": (1, 1)})

    admission = await gate.admit(order(), [GateLine("MUG", 4), GateLine("HAT", 2)])

    assert admission == Admission(False, [GateShortage("HAT", 2, 1)], known=True)
    assert (await gate.available("MUG"), await gate.available("HAT")) == (10, 1)


async def test_the_same_order_admitted_twice_holds_once(gate: StockGate) -> None:
    await gate.rebuild({"MUG": (10, 1)})
    key = order()

    first = await gate.admit(key, [GateLine("MUG", 4)])
    again = await gate.admit(key, [GateLine("MUG", 4)])

    # The retry is admitted without a hold of its own: only the first request settles it
    assert (first, again) == (ADMITTED, Admission(True, [], known=True, held=False))
    assert await gate.available("MUG") == 6


async def test_a_refused_checkout_sent_again_is_refused_the_same_even_once_stock_is_back(
    gate: StockGate,
) -> None:
    # Given a checkout of 4 refused while only 3 are left (simulation seed 838: its retry with
    # the same key was confirmed once stock came back, a second answer to one key)
    await gate.rebuild({"MUG": (3, 1)})
    key = order()
    refused = await gate.admit(key, [GateLine("MUG", 4)], fingerprint="body-1")
    assert refused == Admission(False, [GateShortage("MUG", 4, 3)], known=True, held=False)
    # When stock comes back and the same request is sent again with its key
    await gate.publish("MUG", 10, 2)
    again = await gate.admit(key, [GateLine("MUG", 4)], fingerprint="body-1")
    # Then it gets the first answer, and nothing is held for it
    assert again == refused
    assert await gate.available("MUG") == 10
    # While another request under that key is a reused key, neither admitted nor refused
    other = await gate.admit(key, [GateLine("MUG", 1)], fingerprint="body-2")
    assert (other.admitted, other.reused, other.shortages) == (False, True, [])
    # And a new key is admitted as usual
    assert (await gate.admit(order(), [GateLine("MUG", 4)], fingerprint="body-1")).admitted


async def test_one_refused_checkout_sent_many_times_at_once_gets_one_refusal_and_holds_nothing(
    gate: StockGate,
) -> None:
    # Given 3 left, and one checkout of 4 sent ten times at once with its key
    await gate.rebuild({"MUG": (3, 1)})
    key = order()
    answers = await asyncio.gather(
        *(gate.admit(key, [GateLine("MUG", 4)], fingerprint="body-1") for _ in range(10))
    )
    # Then every copy is the same refusal, and nothing is held
    assert {a.admitted for a in answers} == {False}
    assert all(a == answers[0] for a in answers)
    assert await gate.available("MUG") == 3


async def test_three_hundred_buyers_racing_for_a_hundred_units_admit_exactly_a_hundred(
    gate: StockGate,
) -> None:
    await gate.rebuild({"MUG": (100, 1)})

    admissions = await asyncio.gather(
        *(gate.admit(order(), [GateLine("MUG", 1)]) for _ in range(300))
    )

    assert sum(a.admitted for a in admissions) == 100
    refusals = [a for a in admissions if not a.admitted]
    assert {a.shortages[0] for a in refusals} == {GateShortage("MUG", 1, 0)}
    assert await gate.available("MUG") == 0


async def test_a_late_publish_is_ignored_a_newer_one_applied_minus_live_holds(
    gate: StockGate,
) -> None:
    await gate.rebuild({"MUG": (10, 5)})
    await gate.admit(order(), [GateLine("MUG", 3)])

    await gate.publish("MUG", 50, 4)
    after_stale = await gate.available("MUG")
    await gate.publish("MUG", 50, 5)
    after_same = await gate.available("MUG")
    await gate.publish("MUG", 8, 6)

    assert (after_stale, after_same) == (7, 7)
    # PostgreSQL says 8; the admitted checkout has not reserved its 3 there yet.
    assert await gate.available("MUG") == 5


async def test_a_checkout_reserved_published_and_settled_leaves_postgresql_s_count(
    gate: StockGate,
) -> None:
    await gate.rebuild({"MUG": (2, 1)})
    key = order()

    await gate.admit(key, [GateLine("MUG", 1)])
    await gate.publish("MUG", 1, 2)  # the reservation committed in PostgreSQL
    while_unsettled = await gate.available("MUG")
    await gate.settle(key)
    await gate.settle(key)

    assert while_unsettled == 0
    assert await gate.available("MUG") == 1
    assert await gate.admit(order(), [GateLine("MUG", 1)]) == ADMITTED


async def test_a_checkout_settled_before_its_publish_lands_ends_on_postgresql_s_count(
    gate: StockGate,
) -> None:
    await gate.rebuild({"MUG": (5, 1)})
    key = order()

    await gate.admit(key, [GateLine("MUG", 2)])
    await gate.settle(key)
    await gate.publish("MUG", 3, 2)

    assert await gate.available("MUG") == 3


async def test_holds_expire_and_then_no_longer_reduce_published_counts(gate: StockGate) -> None:
    await gate.rebuild({"MUG": (10, 1)})
    await gate.admit(order(), [GateLine("MUG", 3)], hold_seconds=0.3)
    await gate.publish("MUG", 10, 2)
    while_held = await gate.available("MUG")

    await asyncio.sleep(0.5)
    after_expiry = await gate.available("MUG")
    await gate.publish("MUG", 9, 3)

    assert (while_held, after_expiry) == (7, 10)
    assert await gate.available("MUG") == 9


async def test_an_unknown_sku_is_admitted_unknown_and_never_counted(
    gate: StockGate, client: Redis
) -> None:
    await gate.rebuild({"MUG": (10, 1)})

    admission = await gate.admit(order(), [GateLine("MUG", 2), GateLine("NEW", 1)])

    assert admission == Admission(True, [], known=False, held=True)
    assert (await gate.available("MUG"), await gate.available("NEW")) == (8, None)
    assert await client.keys("*:NEW") == []


async def test_a_rebuild_forgets_skus_postgresql_no_longer_names_and_never_goes_back(
    gate: StockGate,
) -> None:
    await gate.rebuild({"MUG": (10, 1), "HAT": (4, 1)})
    await gate.publish("MUG", 6, 3)

    await gate.rebuild({"MUG": (9, 2)})

    assert (await gate.available("MUG"), await gate.available("HAT")) == (6, None)


async def test_after_flushall_the_gate_fails_open_until_rebuilt(
    gate: StockGate, client: Redis
) -> None:
    await gate.rebuild({"MUG": (1, 1)})
    await gate.admit(order(), [GateLine("MUG", 1)])
    built_before = await gate.is_built()

    await client.flushall()
    unbuilt = await gate.is_built()
    open_admission = await gate.admit(order(), [GateLine("MUG", 1)])
    await gate.rebuild({"MUG": (0, 2)})

    assert (built_before, unbuilt) == (True, False)
    assert open_admission == Admission(True, [], known=False, held=True)
    assert await gate.is_built()
    refused = await gate.admit(order(), [GateLine("MUG", 1)])
    assert refused == Admission(False, [GateShortage("MUG", 1, 0)], known=True)


async def cached_scripts(redis: Redis) -> int:
    return int((await redis.info("memory"))["number_of_cached_scripts"])


async def test_a_restarted_redis_keeps_the_gate_working(tmp_path: Path) -> None:
    port = free_port()
    server = start_redis(tmp_path / "before", port)
    try:
        redis = connect(server.url())
        try:
            gate = StockGate(redis)
            await gate.rebuild({"MUG": (1, 1)})
            await gate.admit(order(), [GateLine("MUG", 1)])

            server.stop()
            # A new, empty data folder: the restart keeps neither keys nor loaded scripts.
            server = start_redis(tmp_path / "after", port)
            scripts_at_restart = await cached_scripts(redis)
            unbuilt = await gate.is_built()
            open_admission = await gate.admit(order(), [GateLine("MUG", 1)])
            await gate.rebuild({"MUG": (1, 2)})
            admitted = await gate.admit(order(), [GateLine("MUG", 1)])
            refused = await gate.admit(order(), [GateLine("MUG", 1)])
            scripts_after = await cached_scripts(redis)
        finally:
            await redis.aclose()
    finally:
        server.stop()

    assert (scripts_at_restart, scripts_after) == (0, 2)  # admit and rebuild, reloaded
    assert unbuilt is False
    assert open_admission == Admission(True, [], known=False, held=True)
    assert admitted == ADMITTED
    assert refused == Admission(False, [GateShortage("MUG", 1, 0)], known=True)
