"""A saga's local-activity steps run again after a worker crash lost their markers: the order
store answers a second `orders.create` with what it already kept (long run seed 907), and a
second `orders.confirm` with the order it confirmed, keeping one of everything."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.testing import ActivityEnvironment

from activities.orders import OrderStoreActivities
from models.ledger import LedgerEntry
from models.messages.checkout import RejectOrderRequest
from models.order import Order, OrderEvent, OrderLine
from models.payment import Payment
from models.vendor_order import VendorOrder, VendorOrderLine
from tests.store_helpers import confirm_request, create_request, seed

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


async def kept_for(
    sessions: async_sessionmaker[AsyncSession], order_id: str
) -> dict[str, list[str]]:
    """What the database keeps for an order, row by row: enough to see a row kept twice."""
    async with sessions() as session:
        lines = await session.exec(select(OrderLine.sku).where(OrderLine.order_id == order_id))
        payments = await session.exec(
            select(Payment.payment_intent_id).where(Payment.order_id == order_id)
        )
        vendor_orders = list(
            await session.exec(select(VendorOrder.id).where(VendorOrder.order_id == order_id))
        )
        vendor_lines = await session.exec(
            select(VendorOrderLine.sku).where(
                col(VendorOrderLine.vendor_order_id).in_(vendor_orders)
            )
        )
        ledger = await session.exec(
            select(LedgerEntry.kind).where(LedgerEntry.order_id == order_id)
        )
        events = await session.exec(
            select(OrderEvent.type)
            .where(OrderEvent.order_id == order_id)
            .order_by(col(OrderEvent.id))
        )
        return {
            "lines": list(lines),
            "payments": list(payments),
            "vendor_orders": vendor_orders,
            "vendor_order_lines": list(vendor_lines),
            "ledger": list(ledger),
            "events": list(events),
        }


async def test_an_order_recorded_and_confirmed_again_is_one_confirmed_order(
    order_store: OrderStoreActivities, sessions: async_sessionmaker[AsyncSession]
) -> None:
    # Given an order of one unit recorded, charged and confirmed as one vendor order
    sku, vendor = await seed(sessions, {"wh": 5})
    request = create_request(sku=sku, vendor_id=vendor)
    confirmation = confirm_request(request, f"wh_{sku.removeprefix('SKU-')}")
    activities = ActivityEnvironment()
    await activities.run(order_store.create, request)
    confirmed = await activities.run(order_store.confirm, confirmation)

    # When both steps run again (their markers lost with the worker)
    created_again = await activities.run(order_store.create, request)
    confirmed_again = await activities.run(order_store.confirm, confirmation)

    # Then they answer as the first time, and the order, its vendor order, its payment, its
    # charge and each of its events are kept once
    order_id = request.order.order_id
    assert (created_again, confirmed_again) == (None, confirmed)
    assert (confirmed.status, confirmed.total_cents) == ("confirmed", 1000)
    assert await kept_for(sessions, order_id) == {
        "lines": [sku],
        "payments": [f"pi_{order_id}"],
        "vendor_orders": [confirmation.vendor_orders[0].vendor_order_id],
        "vendor_order_lines": [sku],
        "ledger": ["charge"],
        "events": ["order.placed", "vendor_order.created", "order.confirmed"],
    }
