"""A supplier's rejection recorded again after a worker lost the activity's answer: the retry
answers the warehouse the first run moved the order to, and moves nothing a second time; its
acceptance recorded twice is one event. Against the real PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.testing import ActivityEnvironment

from activities.inventory import InventoryActivities
from activities.orders import OrderStoreActivities
from activities.supplier import SupplierActivities
from models.messages.checkout import ReserveRequest
from models.messages.vendor_order import AcceptanceRecord, RejectionRecord
from models.order import OrderEvent
from models.vendor_order import VendorOrder, VendorOrderLine
from stores.db import execute_sql
from stores.stock_changes import StockAnnouncer
from tests.store_helpers import confirm_request, create_request, seed


class Quiet:
    async def publish(self, order_id: str, event: dict[str, Any]) -> None:
        return None


async def levels(sessions: async_sessionmaker[AsyncSession], sku: str) -> dict[str, int]:
    async with sessions() as session:
        rows = await execute_sql(
            session,
            text("SELECT warehouse_id, reserved FROM stock_level WHERE sku = :sku"),
            {"sku": sku},
        )
        return {row.warehouse_id: row.reserved for row in rows}


async def a_confirmed_order(
    sessions: async_sessionmaker[AsyncSession], order_store: OrderStoreActivities
) -> tuple[str, str, str, str]:
    """An order of one unit held at the first of two warehouses: (sku, vendor order, order,
    first warehouse)."""
    sku, vendor = await seed(sessions, {"first": 5, "second": 5})
    request = create_request(sku=sku, vendor_id=vendor)
    env = ActivityEnvironment()
    await env.run(order_store.create, request)
    inventory = InventoryActivities(sessions, StockAnnouncer(None))
    reserved = await env.run(
        inventory.reserve, ReserveRequest(order_id=request.order.order_id, lines=request.lines)
    )
    warehouse = reserved.allocations[0].warehouse_id
    await env.run(order_store.confirm, confirm_request(request, warehouse))
    order_id = request.order.order_id
    return sku, f"vo_{order_id.removeprefix('ord_')}", order_id, warehouse


async def test_a_rejection_run_again_answers_the_same_move_and_moves_nothing_more(
    sessions: async_sessionmaker[AsyncSession], order_store: OrderStoreActivities
) -> None:
    sku, vendor_order_id, order_id, first = await a_confirmed_order(sessions, order_store)
    supplier = SupplierActivities(sessions, StockAnnouncer(None), Quiet())
    now = datetime.now(UTC)
    record = RejectionRecord(
        order_id=order_id,
        vendor_order_id=vendor_order_id,
        reason="out_of_stock",
        number=1,
        reroute=True,
        rejected_at=now,
        next_due_at=now + timedelta(hours=1),
    )
    env = ActivityEnvironment()

    moved = await env.run(supplier.answer_rejection, record)
    again = await env.run(supplier.answer_rejection, record)

    assert moved.moved_to is not None and moved.moved_to != first
    assert again == moved
    assert await levels(sessions, sku) == {first: 0, moved.moved_to: 1}
    async with sessions() as session:
        lines = await session.exec(
            select(VendorOrderLine.warehouse_id).where(
                VendorOrderLine.vendor_order_id == vendor_order_id
            )
        )
        assert list(lines) == [moved.moved_to]
        types = list(
            await session.exec(
                select(OrderEvent.type).where(
                    OrderEvent.order_id == order_id, col(OrderEvent.type).like("vendor_order.re%")
                )
            )
        )
        assert sorted(types) == ["vendor_order.rejected", "vendor_order.rerouted"]
        vendor_order = await session.get(VendorOrder, vendor_order_id)
        assert vendor_order is not None and vendor_order.ack_due_at is not None

    # A second rejection (its number 2) moves it back: each rejection is its own.
    record2 = record.model_copy(update={"number": 2})
    back = await env.run(supplier.answer_rejection, record2)
    assert back.moved_to == first
    assert await levels(sessions, sku) == {first: 1, moved.moved_to: 0}


async def test_an_acceptance_recorded_twice_is_one_event_and_one_reference(
    sessions: async_sessionmaker[AsyncSession], order_store: OrderStoreActivities
) -> None:
    _, vendor_order_id, order_id, _ = await a_confirmed_order(sessions, order_store)
    supplier = SupplierActivities(sessions, StockAnnouncer(None), Quiet())
    record = AcceptanceRecord(
        order_id=order_id,
        vendor_order_id=vendor_order_id,
        supplier_order_ref="SUP-9",
        accepted_at=datetime.now(UTC),
    )
    env = ActivityEnvironment()
    await env.run(supplier.record_acceptance, record)
    await env.run(supplier.record_acceptance, record)
    async with sessions() as session:
        events = list(
            await session.exec(
                select(OrderEvent.type).where(
                    OrderEvent.order_id == order_id, OrderEvent.type == "vendor_order.accepted"
                )
            )
        )
        assert events == ["vendor_order.accepted"]
        vendor_order = await session.get(VendorOrder, vendor_order_id)
        assert vendor_order is not None
        assert (vendor_order.supplier_order_ref, vendor_order.ack_due_at) == ("SUP-9", None)
