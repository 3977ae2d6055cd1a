"""Every webhook attempt is counted by how it ended (`fulfillment_webhook_deliveries_total`),
against a real receiver and the stack's database (the fixtures of test_vendor_notifications)."""

from __future__ import annotations

import pytest
from prometheus_client import REGISTRY
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.exceptions import ApplicationError

from activities.notifications import NotificationActivities
from domain.signing import new_secret
from tests.activities.test_vendor_notifications import (  # noqa: F401 (fixtures by name)
    Receiver,
    created,
    notifications,
    receiver,
    vendor,
)

DB_POOL_SIZE = 2  # connections of the `sessions` fixture (tests/conftest.py)
OUTCOMES = ("delivered", "failed", "gone", "skipped_no_webhook_url", "refused_url")


def _counts() -> dict[str, float]:
    return {
        outcome: REGISTRY.get_sample_value(
            "fulfillment_webhook_deliveries_total", {"outcome": outcome}
        )
        or 0.0
        for outcome in OUTCOMES
    }


async def test_each_webhook_attempt_is_counted_by_how_it_ended(
    sessions: async_sessionmaker[AsyncSession],
    notifications: NotificationActivities,  # noqa: F811
    receiver: Receiver,  # noqa: F811
) -> None:
    before = _counts()
    await notifications.deliver(created(await vendor(sessions, receiver.url(), new_secret())))
    receiver.status = 500
    with pytest.raises(ApplicationError):
        await notifications.deliver(created(await vendor(sessions, receiver.url(), new_secret())))
    receiver.status = 410
    await notifications.deliver(created(await vendor(sessions, receiver.url(), new_secret())))
    await notifications.deliver(created(await vendor(sessions, None)))
    with pytest.raises(ApplicationError):
        await notifications.deliver(
            created(await vendor(sessions, "ftp://vendor.example/hooks", new_secret()))
        )
    after = _counts()
    assert {outcome: after[outcome] - before[outcome] for outcome in OUTCOMES} == dict.fromkeys(
        OUTCOMES, 1.0
    )
    assert len(receiver.requests) == 3  # the skipped and the refused one sent nothing
