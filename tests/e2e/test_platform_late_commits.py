"""The outbox never skips an order event whose transaction commits late (stores/
platform_deliveries.py): its reading position passes an id only once every transaction that
was open when it saw that id has ended, not merely after the commit lag. Here a transaction
holds its event uncommitted for longer than the lag while a later event commits."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from devstack.stack import DevStack
from tests.e2e.client import PLATFORM, onboard, order_body, place, stock_product
from tests.e2e.money import eventually
from tests.e2e.platform_receiver import PlatformReceiver, running_receiver
from tests.e2e.webhook_inbox import allowed_webhook_port

# The test stack's FULFILLMENT_PLATFORM_EVENTS_COMMIT_LAG (tests/conftest.py), in seconds.
COMMIT_LAG = 2.0
_EVENT = text(
    "INSERT INTO order_event (order_id, type, detail, dedup_key, at) "
    "VALUES (:order_id, 'order.completed', CAST(:detail AS json), :key, :at) RETURNING id"
)


@pytest.fixture
def receiver(stack: DevStack) -> Iterator[PlatformReceiver]:
    with running_receiver(allowed_webhook_port(stack)) as running:
        yield running


async def add_event(session: AsyncSession, order_id: str, which: str) -> int:
    connection = await session.connection()
    found = await connection.execute(
        _EVENT,
        {
            "order_id": order_id,
            "detail": f'{{"which": "{which}"}}',
            "key": f"test-late-{uuid.uuid4().hex}",
            "at": datetime.now(UTC),
        },
    )
    return int(found.scalar_one())


async def test_an_event_committed_later_than_the_lag_is_still_delivered(
    api: httpx.AsyncClient,
    receiver: PlatformReceiver,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    path = receiver.new_path()
    registered = await api.post(
        "/v1/webhook-endpoints",
        json={"url": receiver.url(path), "event_types": ["order.completed"]},
        headers=PLATFORM,
    )
    assert registered.status_code == 201, registered.text
    seller = await onboard(api, "Late Commits", email="late@example.com")
    sku = await stock_product(api, seller, price_cents=1000, on_hand=2)
    placed = await place(api, order_body([(sku, 1)]))
    assert placed.status_code == 201, placed.text
    order_id = placed.json()["id"]
    try:
        async with sessions() as slow:
            await slow.begin()
            late_id = await add_event(slow, order_id, "late")
            # A later event commits first: the newest id the outbox sees passes the late one.
            async with sessions() as quick, quick.begin():
                quick_id = await add_event(quick, order_id, "quick")
            assert quick_id > late_id

            async def quick_arrived() -> bool:
                return any(r.event["data"]["which"] == "quick" for r in receiver.requests(path))

            await eventually(quick_arrived)
            # Longer than the lag, twice over: the lag alone would have passed the late id.
            await asyncio.sleep(3 * COMMIT_LAG)
            await slow.commit()

        async def both() -> list[dict[str, Any]] | None:
            events = [r.event for r in receiver.requests(path)]
            which = {event["data"]["which"] for event in events}
            return events if which == {"late", "quick"} else None

        events = await eventually(both)
        assert {event["id"] for event in events} >= {f"evt_{late_id}", f"evt_{quick_id}"}
    finally:
        removed = await api.delete(
            f"/v1/webhook-endpoints/{registered.json()['id']}", headers=PLATFORM
        )
        assert removed.status_code == 204, removed.text
