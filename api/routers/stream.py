"""An order's events as server-sent events: what happened so far, then each one as it happens."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from api.deps import CurrentVendor, PlatformOrOps, RedisDep, SessionDep
from api.errors import Problem
from domain.errors import ErrorCode
from domain.ids import order_events_channel
from models.order import Order, OrderEvent
from models.views import OrderEventPublic
from stores.stock_changes import vendor_events_channel

router = APIRouter(prefix="/v1", tags=["orders"])

KEEP_ALIVE_SECONDS = 15.0


@router.get(
    "/orders/{order_id}/stream",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def stream_order_events(
    order_id: str, request: Request, _: PlatformOrOps, session: SessionDep, redis: RedisDep
) -> StreamingResponse:
    pubsub = redis.pubsub()
    # Subscribe before reading the history, so nothing falls between the two.
    await pubsub.subscribe(order_events_channel(order_id))
    try:
        past = await _history(session, order_id)
    except BaseException:
        await _close(pubsub)
        raise
    return _sse(_relay(request, pubsub, past))


async def _history(session: AsyncSession, order_id: str) -> dict[str, dict[str, Any]]:
    """The order's recorded events in order, by identity (the row's dedup_key)."""
    if await session.get(Order, order_id) is None:
        raise Problem(ErrorCode.NOT_FOUND, "no such order")
    rows = await session.exec(
        select(OrderEvent).where(OrderEvent.order_id == order_id).order_by(col(OrderEvent.id))
    )
    return {
        row.dedup_key: OrderEventPublic(
            type=row.type, at=row.at, vendor_order_id=row.vendor_order_id, detail=row.detail or None
        ).model_dump(mode="json")
        for row in rows
    }


async def _relay(
    request: Request, pubsub: Any, past: dict[str, dict[str, Any]] | None = None
) -> AsyncIterator[str]:
    """Events already recorded first, then each one as it is published. With a history, a
    live event that repeats one of it (recorded before we read it, published after) is not
    sent twice: events are told apart by identity, never by type, so a second return on the
    same vendor order is a second event."""
    seen = set(past) if past is not None else None
    try:
        yield ": connected\n\n"
        for event in (past or {}).values():
            yield _frame(event)
        while not await request.is_disconnected():
            message = await pubsub.get_message(
                ignore_subscribe_messages=True, timeout=KEEP_ALIVE_SECONDS
            )
            if message is None:
                yield ": keep-alive\n\n"
                continue
            event = json.loads(message["data"])
            if seen is not None:
                # Without an identity (a publisher older than this reader) nothing is dropped.
                identity = event.pop("id", None)
                if identity in seen:
                    continue
                if identity is not None:
                    seen.add(identity)
            yield _frame(event)
    finally:
        await _close(pubsub)


def _sse(events: AsyncIterator[str]) -> StreamingResponse:
    return StreamingResponse(
        events,
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


def _frame(event: dict[str, Any]) -> str:
    return f"event: {event['type']}\ndata: {json.dumps(event, default=str)}\n\n"


async def _close(pubsub: Any) -> None:
    await pubsub.unsubscribe()
    await pubsub.aclose()


@router.get(
    "/vendor/events",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
    tags=["vendor app"],
)
async def stream_vendor_events(
    request: Request, vendor_id: CurrentVendor, redis: RedisDep
) -> StreamingResponse:
    """The calling vendor's live events (for now `stock.low`), as server-sent events."""
    pubsub = redis.pubsub()
    await pubsub.subscribe(vendor_events_channel(vendor_id))
    return _sse(_relay(request, pubsub))
