"""A small storefront / vendor / operator client over the public HTTP contract."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from typing import Any

import httpx

from models.settings import DEV_OPS_KEY, DEV_PLATFORM_KEY

OPS = {"Authorization": f"Bearer {DEV_OPS_KEY}"}
PLATFORM = {"Authorization": f"Bearer {DEV_PLATFORM_KEY}"}

# A second warehouse for a vendor, on the other coast from the one onboard() creates.
WEST = {
    "name": "West",
    "postal_code": "94105",
    "country": "US",
    "latitude": 37.8,
    "longitude": -122.4,
    "address_line1": "1 Market St",
    "city": "San Francisco",
    "state": "CA",
}
# The street address of the warehouse onboard() creates: labels leave from it.
EAST_ADDRESS = {"address_line1": "450 W 33rd St", "city": "New York", "state": "NY"}


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@dataclass
class Seller:
    id: str
    key: str
    warehouse_id: str
    account: str

    @property
    def auth(self) -> dict[str, str]:
        return bearer(self.key)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}".upper()


async def onboard(
    api: httpx.AsyncClient, name: str, commission_bps: int = 1000, **extra: Any
) -> Seller:
    created = await api.post(
        "/v1/vendors",
        json={
            "name": name,
            "email": f"{name.lower()}@example.com",
            "commission_bps": commission_bps,
            **extra,
        },
        headers=OPS,
    )
    assert created.status_code == 201, created.text
    vendor = created.json()
    warehouse = await api.post(
        f"/v1/vendors/{vendor['id']}/warehouses",
        json={
            "name": f"{name} main",
            "postal_code": "10001",
            "country": "US",
            "latitude": 40.75,
            "longitude": -73.99,
            **EAST_ADDRESS,
        },
        headers=bearer(vendor["api_key"]),
    )
    assert warehouse.status_code == 201, warehouse.text
    return Seller(
        vendor["id"], vendor["api_key"], warehouse.json()["id"], vendor["stripe_account_id"]
    )


async def add_warehouse(api: httpx.AsyncClient, seller: Seller) -> str:
    """A second warehouse for the seller, on the other coast (WEST)."""
    answer = await api.post(f"/v1/vendors/{seller.id}/warehouses", json=WEST, headers=seller.auth)
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


async def stock_product(
    api: httpx.AsyncClient,
    seller: Seller,
    *,
    price_cents: int,
    on_hand: int,
    tiers: list[dict[str, int]] | None = None,
) -> str:
    sku = unique("SKU")
    product = await api.post(
        "/v1/products",
        json={
            "vendor_id": seller.id,
            "sku": sku,
            "title": f"Item {sku}",
            "price_cents": price_cents,
            "currency": "usd",
            "weight_grams": 500,
            "price_tiers": tiers or [],
        },
        headers=seller.auth,
    )
    assert product.status_code == 201, product.text
    stock = await api.put(
        f"/v1/inventory/{sku}/{seller.warehouse_id}", json={"on_hand": on_hand}, headers=seller.auth
    )
    assert stock.status_code == 200, stock.text
    return sku


def order_body(
    lines: list[tuple[str, int]], payment_method: str = "pm_card_visa"
) -> dict[str, Any]:
    return {
        "customer_id": unique("cus"),
        "currency": "usd",
        "lines": [{"sku": sku, "quantity": quantity} for sku, quantity in lines],
        "shipping_address": {
            "name": "Ada Lovelace",
            "line1": "1 Main St",
            "city": "New York",
            "postal_code": "10001",
            "country": "US",
            "latitude": 40.7,
            "longitude": -74.0,
        },
        "payment_method": payment_method,
    }


async def place(
    api: httpx.AsyncClient, body: dict[str, Any], key: str | None = None
) -> httpx.Response:
    return await api.post(
        "/v1/orders", json=body, headers={**PLATFORM, "Idempotency-Key": key or uuid.uuid4().hex}
    )


async def inventory(api: httpx.AsyncClient, sku: str) -> dict[str, Any]:
    answer = await api.get(f"/v1/inventory/{sku}", headers=PLATFORM)
    assert answer.status_code == 200, answer.text
    return answer.json()  # type: ignore[no-any-return]


async def wait_for_order(
    api: httpx.AsyncClient, order_id: str, status: str, within: float = 30
) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + within
    while True:
        order = (await api.get(f"/v1/orders/{order_id}", headers=PLATFORM)).json()
        if order["status"] == status:
            return order  # type: ignore[no-any-return]
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"order stayed {order['status']}, expected {status}: {order}")
        await asyncio.sleep(0.3)


async def stock_books_agree(database_url: str, *skus: str) -> None:
    """on_hand, reserved and the reservations table agree: every level's reserved units are
    exactly the units held for it, and never more than on hand."""
    from sqlalchemy import text

    from stores.db import execute_sql, make_engine, make_sessionmaker

    engine = make_engine(database_url, pool_size=1)
    try:
        async with make_sessionmaker(engine)() as session:
            rows = (
                await execute_sql(
                    session,
                    text(
                        "SELECT s.sku, s.warehouse_id, s.on_hand, s.reserved,"
                        " coalesce((SELECT sum(quantity) FROM reservation r WHERE r.sku = s.sku"
                        " AND r.warehouse_id = s.warehouse_id AND r.status = 'held'), 0) AS held"
                        " FROM stock_level s WHERE s.sku = ANY(:skus)"
                    ),
                    {"skus": list(skus)},
                )
            ).all()
    finally:
        await engine.dispose()
    assert rows, "no stock levels"
    for row in rows:
        assert row.reserved == row.held, row
        assert 0 <= row.reserved <= row.on_hand, row
