"""The token bucket script on a real Redis (stores/rate_limits.py): a full bucket answers its
limit at once, refills evenly over the window, and API processes sharing it never both spend
its last token."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from devstack.stack import DevStack
from stores.db import connect_redis
from stores.rate_limits import RateLimits


@pytest.fixture
async def redis(stack: DevStack) -> AsyncIterator[Redis]:
    client = connect_redis(stack.env["REDIS_URL"])
    try:
        yield client
    finally:
        await client.aclose()


async def test_a_full_bucket_answers_its_limit_then_refuses_until_a_token_is_back(
    redis: Redis,
) -> None:
    limits = RateLimits(redis)
    bucket = f"test:{uuid.uuid4().hex}"
    taken = [await limits.take(bucket, 3, 1.5) for _ in range(4)]
    assert [v.allowed for v in taken] == [True, True, True, False]
    assert [v.remaining for v in taken] == [2, 1, 0, 0]
    # One token every 0.5 s: the refusal says to come back within a second.
    assert (taken[3].retry_after, taken[3].limit) == (1, 3)
    assert taken[3].reset in (1, 2)
    await asyncio.sleep(0.6)
    again = await limits.take(bucket, 3, 1.5)
    assert (again.allowed, again.remaining) == (True, 0)


async def test_many_callers_at_once_never_spend_more_than_the_bucket_holds(
    stack: DevStack, redis: Redis
) -> None:
    # Two clients, as two API processes would have, racing for one bucket of 10.
    other = connect_redis(stack.env["REDIS_URL"])
    try:
        bucket = f"test:{uuid.uuid4().hex}"
        first, second = RateLimits(redis), RateLimits(other)
        verdicts = await asyncio.gather(
            *(limits.take(bucket, 10, 600) for limits in [first, second] * 25)
        )
    finally:
        await other.aclose()
    assert sum(v.allowed for v in verdicts) == 10


async def test_a_bucket_forgotten_after_its_window_is_full_again(redis: Redis) -> None:
    limits = RateLimits(redis)
    bucket = f"test:{uuid.uuid4().hex}"
    assert (await limits.take(bucket, 1, 0.3)).allowed
    assert not (await limits.take(bucket, 1, 0.3)).allowed
    keys = await redis.keys(f"ratelimit:*{bucket}")
    assert len(keys) == 1
    assert 0 < await redis.pttl(keys[0]) <= 300
    await asyncio.sleep(0.4)
    assert await redis.exists(keys[0]) == 0
    assert (await limits.take(bucket, 1, 0.3)).allowed
