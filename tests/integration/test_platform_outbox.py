"""Deliveries to the platform's endpoints are claimed with FOR UPDATE SKIP LOCKED, one order's
events in order (stores/platform_deliveries.py), on the stack's real PostgreSQL.

The stack's own worker runs the same loop: every delivery here is due only in 2100, and the
claims ask "as of 2100", so that worker never takes them. The last test sends for real, to a
loopback receiver, through the guarded sender: a worker that dies mid-send loses nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from activities.webhook_sender import WebhookSender
from devstack.stack import DevStack
from domain.delivery_schedule import DisablePolicy, RetryPolicy
from domain.outbound_urls import OutboundPolicy
from jobs.platform_events import OutboxSettings, PlatformOutbox
from models.platform_webhooks import PlatformDelivery, PlatformEndpoint
from stores.platform_deliveries import claim_due, deliveries_page
from tests.e2e.platform_receiver import running_receiver
from tests.e2e.webhook_inbox import allowed_webhook_port

FAR = datetime(2100, 1, 1, tzinfo=UTC)
LATER = FAR + timedelta(seconds=1)
DB_POOL_SIZE = 3
MADE: list[str] = []


@pytest.fixture(autouse=True)
async def _removed_after(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[None]:
    """Endpoints made here are removed (their deliveries with them): the stack's worker must
    never try their made-up URL."""
    yield
    async with sessions() as session, session.begin():
        connection = await session.connection()
        for endpoint_id in MADE:
            await connection.execute(
                text("DELETE FROM platform_webhook_endpoint WHERE id = :id"), {"id": endpoint_id}
            )
    MADE.clear()


async def endpoint_with_deliveries(
    sessions: async_sessionmaker[AsyncSession],
    events: list[tuple[str, int]],
    status: str = "enabled",
    url: str = "https://storefront.example/hooks",
) -> tuple[str, dict[tuple[str, int], int]]:
    """An endpoint and one pending delivery per (order, event id); their ids by (order, event)."""
    endpoint_id = f"we_{uuid.uuid4().hex[:12]}"
    MADE.append(endpoint_id)
    async with sessions() as session, session.begin():
        session.add(
            PlatformEndpoint(
                id=endpoint_id,
                url=url,
                event_types=["*"],
                secret="whsec_test",
                status=status,
                # Registered "in 2100": no real order event is ever fanned out to it.
                created_at=FAR,
            )
        )
        await session.flush()
        rows = [
            PlatformDelivery(
                endpoint_id=endpoint_id,
                order_event_id=event,
                order_id=order,
                event_type="order.confirmed",
                payload={"id": f"evt_{event}"},
                next_attempt_at=FAR,
            )
            for order, event in events
        ]
        session.add_all(rows)
        await session.flush()
        ids = {(row.order_id, row.order_event_id): row.id or 0 for row in rows}
    return endpoint_id, ids


def base() -> int:
    # Event ids of our own, far from the stack's real ones (no foreign key on them).
    return 10**12 + uuid.uuid4().int % 10**9


async def test_two_workers_never_hold_one_delivery_and_an_orders_next_event_waits(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    first = base()
    order, other = f"ord_{uuid.uuid4().hex[:8]}", f"ord_{uuid.uuid4().hex[:8]}"
    endpoint_id, ids = await endpoint_with_deliveries(
        sessions, [(order, first), (order, first + 1), (other, first + 2)]
    )

    async with sessions() as worker_a, worker_a.begin():
        claimed_a = [d.id for d, _ in await claim_due(worker_a, LATER, 100)]
        mine = {ids[(order, first)], ids[(other, first + 2)]}
        # The order's second event is not claimed while its first is pending.
        assert mine <= set(claimed_a)
        assert ids[(order, first + 1)] not in claimed_a
        async with sessions() as worker_b, worker_b.begin():
            claimed_b = {d.id for d, _ in await claim_due(worker_b, LATER, 100)}
            # Locked by worker A: skipped, not waited for; the next event still waits.
            assert not claimed_b & set(ids.values())
        delivery = await worker_a.get(PlatformDelivery, ids[(order, first)])
        assert delivery is not None
        delivery.status = "succeeded"
        worker_a.add(delivery)

    async with sessions() as worker_b, worker_b.begin():
        claimed = {d.id for d, _ in await claim_due(worker_b, LATER, 100)}
    # The first succeeded: the second goes now; the other order's is free again too.
    assert {ids[(order, first + 1)], ids[(other, first + 2)]} <= claimed
    assert ids[(order, first)] not in claimed
    assert endpoint_id


async def test_a_given_up_delivery_lets_the_orders_next_event_go(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    first = base()
    order = f"ord_{uuid.uuid4().hex[:8]}"
    _, ids = await endpoint_with_deliveries(sessions, [(order, first), (order, first + 1)])
    async with sessions() as session, session.begin():
        delivery = await session.get(PlatformDelivery, ids[(order, first)])
        assert delivery is not None
        delivery.status = "failed"
        session.add(delivery)
    async with sessions() as session, session.begin():
        claimed = {d.id for d, _ in await claim_due(session, LATER, 100)}
    assert ids[(order, first + 1)] in claimed


async def test_a_disabled_endpoints_deliveries_wait(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    first = base()
    _, ids = await endpoint_with_deliveries(
        sessions, [(f"ord_{uuid.uuid4().hex[:8]}", first)], status="disabled"
    )
    async with sessions() as session, session.begin():
        claimed = {d.id for d, _ in await claim_due(session, LATER, 100)}
    assert not claimed & set(ids.values())


async def test_deliveries_are_paged_newest_first_without_gaps_or_repeats(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    first = base()
    order = f"ord_{uuid.uuid4().hex[:8]}"
    endpoint_id, ids = await endpoint_with_deliveries(
        sessions, [(order, first + n) for n in range(5)]
    )
    seen: list[int] = []
    cursor: int | None = None
    async with sessions() as session:
        while True:
            # A page of 2, asked for one more: the extra row only says there is more.
            fetched = await deliveries_page(session, endpoint_id, 3, cursor, None)
            rows, more = fetched[:2], len(fetched) > 2
            seen += [row.id or 0 for row in rows]
            if not more:
                break
            cursor = rows[-1].id
        succeeded = await deliveries_page(session, endpoint_id, 10, None, "succeeded")
    assert seen == sorted(ids.values(), reverse=True)
    assert succeeded == []


SETTINGS = OutboxSettings(
    poll_every=timedelta(seconds=0.2),
    commit_lag=timedelta(seconds=2),
    retry=RetryPolicy(timedelta(seconds=1), timedelta(seconds=4), timedelta(days=1)),
    disable=DisablePolicy(5, timedelta(hours=1)),
    timeout_seconds=5,
)


async def test_a_worker_that_dies_while_sending_leaves_the_delivery_to_the_next_one(
    sessions: async_sessionmaker[AsyncSession], stack: DevStack
) -> None:
    port = allowed_webhook_port(stack)
    sender = WebhookSender(
        OutboundPolicy(allow_http=True, allowed_hosts=frozenset({f"127.0.0.1:{port}"}))
    )
    try:
        with running_receiver(port) as receiver:
            path = receiver.new_path()
            receiver.slow(path, 1.0)
            _, ids = await endpoint_with_deliveries(
                sessions, [(f"ord_{uuid.uuid4().hex[:8]}", base())], url=receiver.url(path)
            )
            (delivery_id,) = ids.values()
            dying = PlatformOutbox(sessions, sender, SETTINGS, clock=lambda: LATER)
            sending = asyncio.create_task(dying.send_due())
            for _ in range(100):
                if receiver.requests(path):
                    break
                await asyncio.sleep(0.05)
            # The worker is gone while the endpoint still holds the request.
            sending.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sending
            async with sessions() as session:
                left = await session.get(PlatformDelivery, delivery_id)
                assert left is not None
                assert (left.status, left.attempts) == ("pending", 0)

            receiver.slow(path, 0.0)
            sent = await PlatformOutbox(sessions, sender, SETTINGS, clock=lambda: LATER).send_due()
            assert sent >= 1
            async with sessions() as session:
                done = await session.get(PlatformDelivery, delivery_id)
                assert done is not None
                assert (done.status, done.attempts, done.last_status_code) == ("succeeded", 1, 204)
            # At least once: the endpoint saw the same event twice.
            got = receiver.requests(path)
            assert len(got) == 2 and got[0].event["id"] == got[1].event["id"]
    finally:
        await sender.aclose()


async def test_a_failed_attempt_waits_the_first_wait_and_an_old_one_is_given_up(
    sessions: async_sessionmaker[AsyncSession], stack: DevStack
) -> None:
    port = allowed_webhook_port(stack)
    sender = WebhookSender(
        OutboundPolicy(allow_http=True, allowed_hosts=frozenset({f"127.0.0.1:{port}"}))
    )
    try:
        with running_receiver(port) as receiver:
            path = receiver.new_path()
            receiver.fail_always(path)
            fresh = (f"ord_{uuid.uuid4().hex[:8]}", base())
            old = (f"ord_{uuid.uuid4().hex[:8]}", base())
            endpoint_id, ids = await endpoint_with_deliveries(
                sessions, [fresh, old], url=receiver.url(path)
            )
            async with sessions() as session, session.begin():
                # Made "now" (the test's clock), and one failing for longer than the policy
                # tries (a day here).
                for key, made in ((fresh, LATER), (old, LATER - timedelta(days=2))):
                    delivery = await session.get(PlatformDelivery, ids[key])
                    assert delivery is not None
                    delivery.created_at = made
                    session.add(delivery)

            await PlatformOutbox(sessions, sender, SETTINGS, clock=lambda: LATER).send_due()

            async with sessions() as session:
                retried = await session.get(PlatformDelivery, ids[fresh])
                given_up = await session.get(PlatformDelivery, ids[old])
                endpoint = await session.get(PlatformEndpoint, endpoint_id)
            assert retried is not None and given_up is not None and endpoint is not None
            assert (retried.status, retried.attempts, retried.last_status_code) == (
                "pending",
                1,
                500,
            )
            assert retried.next_attempt_at == LATER + SETTINGS.retry.first_wait
            assert (given_up.status, given_up.attempts) == ("failed", 1)
            # Two failures in a row, but not for an hour: still enabled.
            assert (endpoint.status, endpoint.consecutive_failures) == ("enabled", 2)
            assert endpoint.failing_since == LATER
    finally:
        await sender.aclose()
