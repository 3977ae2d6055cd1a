"""Data the database cannot store is refused for good, not retried (issue 9, item 13).

An order-store activity that meets a DataError (a NUL in a text column, a number out of its
column's range) raises a non-retryable ApplicationError(type="validation_error"): the saga
refuses the order instead of retrying `orders.create` every 10 s for ever. The stock write
path refuses a level past its 32-bit column with StockLimitExceeded, and changes nothing.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.orders import OrderStoreActivities
from models.messages.checkout import OrderStatusChange
from models.order import Order
from stores.db import execute_sql
from stores.stock_changes import LEVEL_LIMIT, StockLimitExceeded, change_level
from tests.store_helpers import create_request, seed


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"customer_id": "cus\x00"}, "PostgreSQL text fields cannot contain NUL (0x00) bytes"),
        ({"payment_method": "pm\x00"}, "PostgreSQL text fields cannot contain NUL (0x00) bytes"),
        ({"shipping_address": {"line1": "1\x00 Main"}}, "unsupported Unicode escape sequence"),
        ({"total_cents": 2**63}, "bigint out of range"),
    ],
    ids=["customer_id", "payment_method", "address", "total"],
)
async def test_an_order_the_database_cannot_store_is_refused_for_good_and_not_recorded(
    order_store: OrderStoreActivities,
    sessions: async_sessionmaker[AsyncSession],
    changes: dict[str, Any],
    reason: str,
) -> None:
    request = create_request(**changes)
    with pytest.raises(ApplicationError) as refused:
        await ActivityEnvironment().run(order_store.create, request)
    assert (refused.value.type, refused.value.non_retryable) == ("validation_error", True)
    assert refused.value.details == ({"reason": reason},)
    assert refused.value.message == f"the database cannot store this order's data: {reason}"
    async with sessions() as session:
        assert await session.get(Order, request.order.order_id) is None


async def test_the_same_order_with_storable_data_is_recorded(
    order_store: OrderStoreActivities, sessions: async_sessionmaker[AsyncSession]
) -> None:
    request = create_request(customer_id="cus \U0001f600")
    await ActivityEnvironment().run(order_store.create, request)
    async with sessions() as session:
        order = await session.get(Order, request.order.order_id)
        assert order is not None and order.customer_id == "cus \U0001f600"


async def test_every_order_store_activity_refuses_bad_data_for_good(
    order_store: OrderStoreActivities,
) -> None:
    change = OrderStatusChange(order_id="ord\x00", status="completed", event_type="order.x")
    with pytest.raises(ApplicationError) as refused:
        await ActivityEnvironment().run(order_store.set_status, change)
    assert (refused.value.type, refused.value.non_retryable) == ("validation_error", True)


async def level(sessions: async_sessionmaker[AsyncSession], sku: str) -> tuple[int, int, int]:
    async with sessions() as session:
        row = (
            await execute_sql(
                session,
                text(
                    "SELECT on_hand, reserved, (SELECT count(*) FROM stock_movement m"
                    " WHERE m.sku = s.sku) FROM stock_level s WHERE sku = :sku"
                ),
                {"sku": sku},
            )
        ).one()
    return int(row[0]), int(row[1]), int(row[2])


async def test_a_stock_change_past_the_columns_limit_is_refused_and_changes_nothing(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    sku, _ = await seed(sessions, {"wh": LEVEL_LIMIT - 10})
    warehouse = await _only_warehouse(sessions, sku)
    before = await level(sessions, sku)
    with pytest.raises(StockLimitExceeded) as refused:
        async with sessions() as session, session.begin():
            await change_level(
                session, sku, warehouse, on_hand_delta=11, reason="recount", actor="ops"
            )
    assert refused.value.extra == {"field": "on_hand", "limit": LEVEL_LIMIT}
    assert (
        refused.value.detail
        == f"on_hand would be {LEVEL_LIMIT + 1}, above the limit of {LEVEL_LIMIT}"
    )
    assert await level(sessions, sku) == before
    async with sessions() as session, session.begin():
        change = await change_level(
            session, sku, warehouse, on_hand_delta=10, reason="recount", actor="ops"
        )
    assert (change.on_hand, await level(sessions, sku)) == (
        LEVEL_LIMIT,
        (LEVEL_LIMIT, 0, before[2] + 1),
    )


async def _only_warehouse(sessions: async_sessionmaker[AsyncSession], sku: str) -> str:
    async with sessions() as session:
        return str(
            (
                await execute_sql(
                    session,
                    text("SELECT warehouse_id FROM stock_level WHERE sku = :sku"),
                    {"sku": sku},
                )
            ).scalar_one()
        )
