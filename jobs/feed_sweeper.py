"""Stock feeds kept whose workflow was never started: the API keeps a feed, commits, then
starts its run (api/routers/stock_feeds.py); killed in between, the feed would wait queued
until the same file was sent again. Every worker process looks every little while and starts
the run of each feed queued longer than the grace period (a feed whose run started already is
left as it is: a feed is applied once, ever). Many workers at once are safe for that reason.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from models.base import utcnow
from stores.stock_feeds import queued_before

log = logging.getLogger("fulfillment.feed_sweeper")


async def sweep_once(
    sessions: async_sessionmaker[AsyncSession],
    start: Callable[[str], Awaitable[bool]],
    grace: timedelta,
) -> list[str]:
    """Start the runs of feeds queued since before `grace` ago; the ids it started."""
    async with sessions() as session:
        stranded = await queued_before(session, utcnow() - grace)
    started = []
    for feed in stranded:
        if await start(feed):
            started.append(feed)
            log.warning("started stock feed %s: kept, but its run had not been started", feed)
    return started


async def sweep(
    sessions: async_sessionmaker[AsyncSession],
    start: Callable[[str], Awaitable[bool]],
    grace: timedelta,
    stop: asyncio.Event,
) -> None:
    # As often as the grace period, within a second and a minute.
    every = min(max(grace.total_seconds(), 1.0), 60.0)
    while not stop.is_set():
        try:
            await sweep_once(sessions, start, grace)
        except Exception:
            log.exception("the stock feed sweeper failed; it tries again")
        try:
            await asyncio.wait_for(stop.wait(), timeout=every)
        except TimeoutError:
            pass
