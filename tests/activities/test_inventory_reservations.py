"""Reservations against real PostgreSQL: all lines or none, never more than the stock."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.exceptions import ApplicationError

from activities.inventory import InventoryActivities
from models.messages.checkout import OrderRef, PricedLineMsg, ReserveRequest
from models.messages.vendor_order import VendorOrderRef
from stores.db import execute_sql
from stores.stock_changes import StockAnnouncer
from tests.store_helpers import seed

# Connections of the `sessions` fixture (tests/conftest.py): twenty checkouts reserve at once.
DB_POOL_SIZE = 20


async def totals(sessions: async_sessionmaker[AsyncSession], sku: str) -> tuple[int, int, int]:
    """(on_hand, reserved, units held in the reservations table) for a SKU."""
    async with sessions() as session:
        on_hand, reserved = (
            await execute_sql(
                session,
                text("SELECT sum(on_hand), sum(reserved) FROM stock_level WHERE sku = :sku"),
                {"sku": sku},
            )
        ).one()
        held = (
            await execute_sql(
                session,
                text(
                    "SELECT coalesce(sum(quantity), 0) FROM reservation"
                    " WHERE sku = :sku AND status = 'held'"
                ),
                {"sku": sku},
            )
        ).scalar_one()
    return int(on_hand), int(reserved), int(held)


def line(sku: str, quantity: int, line_no: int = 1) -> PricedLineMsg:
    # seed() names the vendor after the SKU: routing groups lines by vendor.
    return PricedLineMsg(
        line_no=line_no,
        sku=sku,
        vendor_id="ven_" + sku.removeprefix("SKU-"),
        quantity=quantity,
        unit_price_cents=1000,
        line_total_cents=1000 * quantity,
    )


async def test_parallel_checkouts_for_few_units_confirm_exactly_the_units_there_are(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    sku, _ = await seed(sessions, {"east": 3, "west": 2})
    inventory = InventoryActivities(sessions, StockAnnouncer(None))

    async def buy(n: int) -> bool:
        try:
            await inventory.reserve(ReserveRequest(order_id=f"ord_{n}_{sku}", lines=[line(sku, 1)]))
        except ApplicationError as refused:
            assert refused.type == "insufficient_stock"
            return False
        return True

    outcomes = await asyncio.gather(*(buy(n) for n in range(20)))
    assert outcomes.count(True) == 5
    assert await totals(sessions, sku) == (5, 5, 5)


async def test_a_refused_order_holds_nothing_even_for_the_lines_that_were_in_stock(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    plenty, _ = await seed(sessions, {"main": 10})
    scarce, _ = await seed(sessions, {"main": 1})
    inventory = InventoryActivities(sessions, StockAnnouncer(None))
    with pytest.raises(ApplicationError) as refused:
        await inventory.reserve(
            ReserveRequest(order_id=f"ord_{plenty}", lines=[line(plenty, 4, 1), line(scarce, 2, 2)])
        )
    assert refused.value.type == "insufficient_stock"
    assert refused.value.details[0]["items"] == [{"sku": scarce, "requested": 2, "available": 1}]
    assert await totals(sessions, plenty) == (10, 0, 0)
    assert await totals(sessions, scarce) == (1, 0, 0)


async def test_a_retried_reservation_holds_the_stock_once(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    sku, _ = await seed(sessions, {"main": 5})
    inventory = InventoryActivities(sessions, StockAnnouncer(None))
    request = ReserveRequest(order_id=f"ord_{sku}", lines=[line(sku, 2)])
    first = await inventory.reserve(request)
    second = await inventory.reserve(request)
    assert first == second
    assert await totals(sessions, sku) == (5, 2, 2)


async def test_a_line_no_warehouse_can_fill_alone_is_split_across_warehouses(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    sku, _ = await seed(sessions, {"east": 3, "west": 2})
    inventory = InventoryActivities(sessions, StockAnnouncer(None))
    result = await inventory.reserve(ReserveRequest(order_id=f"ord_{sku}", lines=[line(sku, 4)]))
    assert sorted((a.warehouse_id.split("_")[0], a.quantity) for a in result.allocations) == [
        ("east", 3),
        ("west", 1),
    ]
    assert await totals(sessions, sku) == (5, 4, 4)


async def test_released_stock_is_available_again_and_a_second_release_changes_nothing(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    sku, _ = await seed(sessions, {"main": 5})
    inventory = InventoryActivities(sessions, StockAnnouncer(None))
    order = f"ord_{sku}"
    await inventory.reserve(ReserveRequest(order_id=order, lines=[line(sku, 3)]))
    assert await inventory.release(OrderRef(order_id=order)) == 3
    assert await inventory.release(OrderRef(order_id=order)) == 0
    assert await totals(sessions, sku) == (5, 0, 0)


async def vendor_order_of_two(
    sessions: async_sessionmaker[AsyncSession], sku: str, order: str
) -> VendorOrderRef:
    """An order row and one vendor order of two units of `sku` (the reservation is the
    test's own business)."""
    async with sessions() as session, session.begin():
        await execute_sql(
            session,
            text(
                "INSERT INTO orders (id, status, customer_id, currency, subtotal_cents,"
                " shipping_cents, total_cents, refunded_cents, idempotency_key,"
                " request_fingerprint, shipping_address, payment_method, workflow_id,"
                " created_at, updated_at) VALUES (:id, 'confirmed', 'c', 'usd', 0, 0, 0, 0,"
                " 'k', 'f', '{}', 'pm', 'w', now(), now())"
            ),
            {"id": order},
        )
        vendor = (
            await execute_sql(
                session, text("SELECT vendor_id FROM product WHERE sku=:s"), {"s": sku}
            )
        ).scalar_one()
        await execute_sql(
            session,
            text(
                "INSERT INTO vendor_order (id, order_id, vendor_id, status, currency,"
                " subtotal_cents, shipping_cents, commission_bps, commission_cents,"
                " refunded_cents, label_cost_cents, payout_cents, payout_status, workflow_id,"
                " created_at, updated_at) VALUES (:id, :order, :vendor, 'awaiting_shipment',"
                " 'usd', 0, 0, 0, 0, 0, 0, 0, 'pending', 'w', now(), now())"
            ),
            {"id": f"vo_{sku}", "order": order, "vendor": vendor},
        )
        await execute_sql(
            session,
            text(
                "INSERT INTO vendor_order_line (vendor_order_id, sku, quantity, unit_price_cents)"
                " VALUES (:vo, :sku, 2, 1000)"
            ),
            {"vo": f"vo_{sku}", "sku": sku},
        )
    return VendorOrderRef(vendor_order_id=f"vo_{sku}", order_id=order)


async def test_shipping_takes_the_held_units_off_the_shelf_once(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    sku, _ = await seed(sessions, {"main": 5})
    inventory = InventoryActivities(sessions, StockAnnouncer(None))
    order = f"ord_{sku}"
    await inventory.reserve(ReserveRequest(order_id=order, lines=[line(sku, 2)]))
    ref = await vendor_order_of_two(sessions, sku, order)
    assert await inventory.commit_vendor_order(ref) == 2
    assert await inventory.commit_vendor_order(ref) == 0
    assert await totals(sessions, sku) == (3, 0, 0)


async def test_a_vendor_order_whose_stock_was_released_cannot_ship_and_takes_nothing_off(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    sku, _ = await seed(sessions, {"main": 5})
    inventory = InventoryActivities(sessions, StockAnnouncer(None))
    order = f"ord_{sku}"
    await inventory.reserve(ReserveRequest(order_id=order, lines=[line(sku, 2)]))
    ref = await vendor_order_of_two(sessions, sku, order)
    assert await inventory.release_vendor_order(ref) == 2
    with pytest.raises(ApplicationError) as refused:
        await inventory.commit_vendor_order(ref)
    assert (refused.value.type, refused.value.non_retryable) == ("invalid_state", True)
    assert await totals(sessions, sku) == (5, 0, 0)


async def test_stock_is_held_in_the_warehouse_nearest_the_buyer(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    sku, _ = await seed(sessions, {"nyc": 10, "sfo": 10})
    suffix = sku.removeprefix("SKU-")
    async with sessions() as session, session.begin():
        for warehouse, (lat, lon) in {"nyc": (40.71, -74.01), "sfo": (37.77, -122.42)}.items():
            await execute_sql(
                session,
                text("UPDATE warehouse SET latitude = :lat, longitude = :lon WHERE id = :id"),
                {"lat": lat, "lon": lon, "id": f"{warehouse}_{suffix}"},
            )
    inventory = InventoryActivities(sessions, StockAnnouncer(None))
    for order, (lat, lon), nearest in (
        ("la", (34.05, -118.24), "sfo"),
        ("bos", (42.36, -71.06), "nyc"),
    ):
        result = await inventory.reserve(
            ReserveRequest(
                order_id=f"ord_{order}_{sku}", lines=[line(sku, 2)], latitude=lat, longitude=lon
            )
        )
        assert [(a.warehouse_id, a.quantity) for a in result.allocations] == [
            (f"{nearest}_{suffix}", 2)
        ]
