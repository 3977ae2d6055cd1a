"""The reservation benchmark's hot SKU (bench.reservation_throughput): one vendor, warehouse
and product seeded with SQL, and the reset before each mode that puts PostgreSQL, Redis and
the admission gate back to the same state."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from stores.db import execute_sql
from stores.stock_gate import StockGate

PRICE_CENTS = 1000


@dataclass
class Hot:
    """The one hot SKU and its vendor."""

    sku: str
    vendor: str
    warehouse: str


async def seed(sessions: async_sessionmaker[AsyncSession], units: int) -> Hot:
    suffix = uuid.uuid4().hex[:8]
    hot = Hot(sku=f"HOT-{suffix}".upper(), vendor=f"ven_{suffix}", warehouse=f"wh_{suffix}")
    statements = [
        (
            "INSERT INTO vendor (id, name, email, commission_bps, ship_sla_seconds, created_at)"
            " VALUES (:vendor, 'Hot vendor', 'hot@example.com', 1000, 3600, now())"
        ),
        (
            "INSERT INTO product (sku, vendor_id, title, price_cents, currency, weight_grams,"
            " created_at) VALUES (:sku, :vendor, 'Hot item', :price, 'usd', 100, now())"
        ),
        (
            "INSERT INTO warehouse (id, vendor_id, name, postal_code, country, latitude,"
            " longitude, created_at)"
            " VALUES (:wh, :vendor, 'Main', '10001', 'US', 40.75, -73.99, now())"
        ),
        (
            "INSERT INTO stock_level (sku, warehouse_id, on_hand, reserved, updated_at)"
            " VALUES (:sku, :wh, :units, 0, now())"
        ),
    ]
    params = {
        "vendor": hot.vendor,
        "sku": hot.sku,
        "wh": hot.warehouse,
        "units": units,
        "price": PRICE_CENTS,
    }
    async with sessions() as session, session.begin():
        for statement in statements:
            await execute_sql(session, text(statement), params)
    return hot


async def reset(
    engine: AsyncEngine,
    sessions: async_sessionmaker[AsyncSession],
    redis: Redis,
    gate: StockGate,
    hot: Hot,
    units: int,
) -> None:
    """Back to `units` on the shelf, nothing held, no audit rows, Redis empty, the gate
    rebuilt from PostgreSQL: every mode starts from the same state."""
    async with sessions() as session, session.begin():
        params = {"sku": hot.sku, "units": units}
        await execute_sql(session, text("DELETE FROM reservation WHERE sku = :sku"), params)
        await execute_sql(session, text("DELETE FROM stock_movement WHERE sku = :sku"), params)
        await execute_sql(
            session,
            text(
                "UPDATE stock_level SET on_hand = :units, reserved = 0, updated_at = now()"
                " WHERE sku = :sku"
            ),
            params,
        )
        version = (
            await execute_sql(
                session,
                text(
                    "UPDATE product SET stock_version = stock_version + 1 WHERE sku = :sku"
                    " RETURNING stock_version"
                ),
                params,
            )
        ).scalar_one()
    # Dead rows left by the previous mode would slow the next one: clear them out.
    async with engine.connect() as connection:
        autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
        await autocommit.execute(
            text("VACUUM ANALYZE stock_level, product, reservation, stock_movement")
        )
    await redis.flushdb()
    await gate.rebuild({hot.sku: (units, int(version))})
