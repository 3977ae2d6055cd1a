"""A saga's local-activity steps run again after a worker crash lost their markers: the order
store answers a second `orders.create` with what it already kept (long run seed 907)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.testing import ActivityEnvironment

from activities.orders import OrderStoreActivities
from models.messages.checkout import RejectOrderRequest
from models.order import Order
from tests.store_helpers import create_request

DECLINED = {
    "code": "payment_declined",
    "detail": "Your card was declined.",
    "decline_code": "generic_decline",
}


async def test_an_order_recorded_again_after_its_refusal_answers_that_refusal(
    order_store: OrderStoreActivities, sessions: async_sessionmaker[AsyncSession]
) -> None:
    request = create_request()
    activities = ActivityEnvironment()
    assert await activities.run(order_store.create, request) is None
    rejection = RejectOrderRequest(order_id=request.order.order_id, rejection=DECLINED)
    await activities.run(order_store.set_rejection, rejection)
    # The same step run again (its first run's marker lost with the worker)
    assert await activities.run(order_store.create, request) == DECLINED
    async with sessions() as session:
        order = await session.get(Order, request.order.order_id)
        assert order is not None and (order.status, order.rejection) == ("rejected", DECLINED)


async def test_an_order_recorded_again_while_pending_answers_nothing_kept(
    order_store: OrderStoreActivities, sessions: async_sessionmaker[AsyncSession]
) -> None:
    request = create_request()
    activities = ActivityEnvironment()
    assert await activities.run(order_store.create, request) is None
    assert await activities.run(order_store.create, request) is None
    async with sessions() as session:
        order = await session.get(Order, request.order.order_id)
        assert order is not None and order.status == "pending"
