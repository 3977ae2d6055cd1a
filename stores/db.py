"""Engine and session factories. Built by entrypoints (worker.py, the API's lifespan), never
at import time."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from redis.asyncio import BlockingConnectionPool, Redis
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry
from sqlalchemy import CursorResult, Executable
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession


def make_engine(database_url: str, *, pool_size: int = 10) -> AsyncEngine:
    return create_async_engine(
        database_url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True
    )


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)


async def execute_sql(
    session: AsyncSession, statement: Executable, params: Mapping[str, Any] | None = None
) -> CursorResult[Any]:
    """Run raw SQL or a Core statement in the session's transaction.

    SQLModel deprecates `session.execute` for ORM selects; statements that are not selects
    (locking reads, conditional updates, upserts) go through the session's connection instead.
    """
    connection = await session.connection()
    return await connection.execute(statement, params)


def connect_redis(url: str, *, max_connections: int = 100) -> Redis:
    """A Redis client that waits for a free connection instead of failing past the pool's
    size (a flash sale opens many at once), and retries a command whose connection died
    (Redis restarted)."""
    pool = BlockingConnectionPool.from_url(
        url,
        max_connections=max_connections,
        timeout=10,
        retry=Retry(ExponentialBackoff(cap=0.5), 3),
        retry_on_error=[RedisConnectionError, RedisTimeoutError],
    )
    return Redis.from_pool(pool)
