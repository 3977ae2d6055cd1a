"""A vendor's own catalog and stock, listed page by page (issue 13, part 3): its products,
and its stock levels per SKU and warehouse with what is reserved and available.

Both lists use cursor pagination (api/pagination.py) in the order of their unique keys: a
product's sku; a level's (sku, warehouse). Only the calling vendor's rows are ever read.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Annotated, Any

from fastapi import APIRouter, Query
from sqlalchemy import text
from sqlmodel import col, select

from api.deps import CurrentVendor, SessionDep
from api.pagination import Page, PageParamsDep, after, page
from domain.pagination import KeyShape
from models.catalog import PriceTier, PriceTierIn, Product, ProductPublic
from models.stock import MAX_ON_HAND, StockLevelPublic
from stores.db import execute_sql

router = APIRouter(prefix="/v1/vendor", tags=["vendor app"])

PRODUCTS = KeyShape("vendor_products", (str,))
INVENTORY = KeyShape("vendor_inventory", (str, str))


@router.get("/products", response_model=Page[ProductPublic])
async def list_products(
    vendor_id: CurrentVendor, session: SessionDep, params: PageParamsDep
) -> Page[ProductPublic]:
    """The calling vendor's products, by sku."""
    query = select(Product).where(Product.vendor_id == vendor_id)
    start = after(params, PRODUCTS)
    if start is not None:
        query = query.where(col(Product.sku) > start[0])
    rows = list(await session.exec(query.order_by(col(Product.sku)).limit(params.fetch)))
    tiers: dict[str, list[PriceTierIn]] = defaultdict(list)
    skus = [product.sku for product in rows[: params.limit]]
    if skus:
        for tier in await session.exec(
            select(PriceTier)
            .where(col(PriceTier.sku).in_(skus))
            .order_by(col(PriceTier.sku), col(PriceTier.min_quantity))
        ):
            tiers[tier.sku].append(
                PriceTierIn(min_quantity=tier.min_quantity, price_cents=tier.price_cents)
            )
    return page(
        rows,
        params,
        PRODUCTS,
        lambda product: (product.sku,),
        lambda product: ProductPublic(
            **product.model_dump(exclude={"created_at", "stock_version"}),
            price_tiers=tiers[product.sku],
        ),
    )


_INVENTORY = (
    "SELECT s.sku, s.warehouse_id, s.on_hand, s.reserved FROM stock_level s"
    " JOIN product p ON p.sku = s.sku WHERE p.vendor_id = :vendor"
)


@router.get("/inventory", response_model=Page[StockLevelPublic])
async def list_inventory(
    vendor_id: CurrentVendor,
    session: SessionDep,
    params: PageParamsDep,
    sku: Annotated[str | None, Query(max_length=64, description="only this sku")] = None,
    available_lte: Annotated[
        int | None,
        Query(ge=0, le=MAX_ON_HAND, description="only levels with at most this many available"),
    ] = None,
) -> Page[StockLevelPublic]:
    """The calling vendor's stock levels, by sku then warehouse: on hand, reserved and
    available (on hand less reserved). `available_lte` finds what runs low."""
    sql = _INVENTORY
    values: dict[str, Any] = {"vendor": vendor_id, "fetch": params.fetch}
    if sku is not None:
        sql += " AND s.sku = :sku"
        values["sku"] = sku
    if available_lte is not None:
        sql += " AND s.on_hand - s.reserved <= :available_lte"
        values["available_lte"] = available_lte
    start = after(params, INVENTORY)
    if start is not None:
        sql += " AND (s.sku, s.warehouse_id) > (:after_sku, :after_warehouse)"
        values["after_sku"], values["after_warehouse"] = start
    sql += " ORDER BY s.sku, s.warehouse_id LIMIT :fetch"
    rows = (await execute_sql(session, text(sql), values)).all()
    return page(
        rows,
        params,
        INVENTORY,
        lambda row: (row.sku, row.warehouse_id),
        lambda row: StockLevelPublic(
            sku=row.sku,
            warehouse_id=row.warehouse_id,
            on_hand=row.on_hand,
            reserved=row.reserved,
            available=max(row.on_hand - row.reserved, 0),
        ),
    )
