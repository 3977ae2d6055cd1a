"""Order events fan out in real time through Redis pub/sub (read by the SSE endpoint).

Publishing is best effort: the order_event table is the record, Redis only the live feed.
"""

from __future__ import annotations

import json
import logging
from typing import Any, Protocol

from redis.asyncio import Redis

from domain.ids import order_events_channel

log = logging.getLogger(__name__)


class EventPublisher(Protocol):
    async def publish(self, order_id: str, event: dict[str, Any]) -> None: ...


class RedisEventPublisher:
    def __init__(self, redis: Redis) -> None:
        self._redis = redis

    async def publish(self, order_id: str, event: dict[str, Any]) -> None:
        try:
            await self._redis.publish(
                order_events_channel(order_id), json.dumps(event, default=str)
            )
        except Exception:  # a live feed must never fail the saga
            log.warning("could not publish event for %s", order_id, exc_info=True)
