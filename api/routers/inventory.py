"""Products and their stock per SKU per warehouse (API.md, "Catalog and stock"). Every stock
change is audited and announced through stores.stock_changes; a change that would leave
on_hand below reserved is refused and changes nothing."""

from __future__ import annotations

from fastapi import APIRouter, Request, status
from sqlalchemy import text
from sqlmodel import col, select

from api.auth import Principal, Role
from api.deps import AnyRole, OpsOrVendor, SessionDep, ensure_vendor_scope, vendor_in_scope
from api.errors import Problem
from api.pagination import Page, PageParamsDep, after, page
from domain.errors import ErrorCode
from domain.pagination import KeyShape
from domain.pricing import PriceTier as DomainTier
from domain.pricing import validate_tiers
from models.catalog import PriceTier, PriceTierIn, Product, ProductCreate, ProductPublic
from models.stock import (
    MAX_ON_HAND,
    AdjustmentIn,
    InventoryPublic,
    StockLevel,
    StockLevelIn,
    StockLevelPublic,
    StockMovement,
    StockMovementPublic,
)
from models.vendor import Warehouse
from stores.db import execute_sql
from stores.stock_changes import StockChange, change_level

router = APIRouter(prefix="/v1", tags=["catalog and stock"])


def _actor(principal: Principal) -> str:
    return f"vendor:{principal.vendor_id}" if principal.role == Role.VENDOR else principal.role


async def _locked_level(
    session: SessionDep, principal: Principal, sku: str, warehouse_id: str
) -> StockLevel:
    product = await session.get(Product, sku)
    if product is None:
        raise Problem(ErrorCode.NOT_FOUND, "no such product")
    ensure_vendor_scope(principal, product.vendor_id, "product")
    warehouse = await session.get(Warehouse, warehouse_id)
    if warehouse is None or warehouse.vendor_id != product.vendor_id:
        raise Problem(ErrorCode.NOT_FOUND, "no such warehouse of this product's vendor")
    # The insert creates the row if missing; the lock then holds it against reservations.
    await execute_sql(
        session,
        text(
            "INSERT INTO stock_level (sku, warehouse_id, on_hand, reserved, updated_at) "
            "VALUES (:sku, :wh, 0, 0, now()) ON CONFLICT DO NOTHING"
        ),
        {"sku": sku, "wh": warehouse_id},
    )
    query = select(StockLevel).where(StockLevel.sku == sku, StockLevel.warehouse_id == warehouse_id)
    return (await session.exec(query.with_for_update())).one()


async def _apply(
    request: Request,
    session: SessionDep,
    principal: Principal,
    sku: str,
    warehouse_id: str,
    target_on_hand: int | None,
    delta: int | None,
    reason: str,
) -> StockLevelPublic:
    level = await _locked_level(session, principal, sku, warehouse_id)
    on_hand, reserved = level.on_hand, level.reserved
    change = (target_on_hand - on_hand) if target_on_hand is not None else (delta or 0)
    if on_hand + change > MAX_ON_HAND:
        await session.rollback()
        raise Problem(
            ErrorCode.VALIDATION_ERROR,
            f"on_hand would be {on_hand + change}, above the limit of {MAX_ON_HAND}",
            field="on_hand" if target_on_hand is not None else "delta",
            limit=MAX_ON_HAND,
            on_hand=on_hand,
        )
    if on_hand + change < reserved:
        await session.rollback()
        raise Problem(
            ErrorCode.INVALID_STATE,
            f"on_hand would be {on_hand + change}, below the {reserved} units reserved",
            on_hand=on_hand,
            reserved=reserved,
        )
    result: StockChange = await change_level(
        session, sku, warehouse_id, on_hand_delta=change, reason=reason, actor=_actor(principal)
    )
    await session.commit()
    await request.app.state.announcer.announce([result])
    return StockLevelPublic(
        sku=sku,
        warehouse_id=warehouse_id,
        on_hand=result.on_hand,
        reserved=result.reserved,
        available=max(result.on_hand - result.reserved, 0),
    )


@router.put("/inventory/{sku}/{warehouse_id}", response_model=StockLevelPublic)
async def put_stock(
    sku: str,
    warehouse_id: str,
    body: StockLevelIn,
    request: Request,
    principal: OpsOrVendor,
    session: SessionDep,
) -> StockLevelPublic:
    return await _apply(
        request, session, principal, sku, warehouse_id, body.on_hand, None, "stock count set"
    )


@router.post("/inventory/{sku}/{warehouse_id}/adjustments", response_model=StockLevelPublic)
async def adjust_stock(
    sku: str,
    warehouse_id: str,
    body: AdjustmentIn,
    request: Request,
    principal: OpsOrVendor,
    session: SessionDep,
) -> StockLevelPublic:
    return await _apply(
        request, session, principal, sku, warehouse_id, None, body.delta, body.reason
    )


@router.get("/inventory/{sku}", response_model=InventoryPublic)
async def get_inventory(sku: str, _: AnyRole, session: SessionDep) -> InventoryPublic:
    if await session.get(Product, sku) is None:
        raise Problem(ErrorCode.NOT_FOUND, "no such product")
    levels = [
        StockLevelPublic.of(level)
        for level in await session.exec(
            select(StockLevel)
            .where(StockLevel.sku == sku)
            .order_by(col(StockLevel.warehouse_id))
            .execution_options(populate_existing=True)
        )
    ]
    on_hand = sum(level.on_hand for level in levels)
    reserved = sum(level.reserved for level in levels)
    return InventoryPublic(
        sku=sku,
        on_hand=on_hand,
        reserved=reserved,
        available=max(on_hand - reserved, 0),
        levels=levels,
    )


MOVEMENTS = KeyShape("stock_movements", (int,))  # id, newest first


@router.get("/inventory/{sku}/movements", response_model=Page[StockMovementPublic])
async def list_movements(
    sku: str, principal: OpsOrVendor, session: SessionDep, params: PageParamsDep
) -> Page[StockMovementPublic]:
    """Who changed this SKU's stock, why, by how much, before and after: newest first."""
    product = await session.get(Product, sku)
    if product is None:
        raise Problem(ErrorCode.NOT_FOUND, "no such product")
    ensure_vendor_scope(principal, product.vendor_id, "product")
    query = select(StockMovement).where(StockMovement.sku == sku)
    start = after(params, MOVEMENTS)
    if start is not None:
        query = query.where(col(StockMovement.id) < start[0])
    query = query.order_by(col(StockMovement.id).desc()).limit(params.fetch)
    rows = list(await session.exec(query))
    return page(
        rows,
        params,
        MOVEMENTS,
        lambda row: (int(row.id or 0),),
        StockMovementPublic.model_validate,
    )


async def _product_public(session: SessionDep, product: Product) -> ProductPublic:
    tiers = await session.exec(
        select(PriceTier).where(PriceTier.sku == product.sku).order_by(col(PriceTier.min_quantity))
    )
    return ProductPublic(
        **product.model_dump(exclude={"created_at"}),
        price_tiers=[
            PriceTierIn(min_quantity=t.min_quantity, price_cents=t.price_cents) for t in tiers
        ],
    )


@router.post("/products", status_code=status.HTTP_201_CREATED, response_model=ProductPublic)
async def create_product(
    body: ProductCreate, principal: OpsOrVendor, session: SessionDep
) -> ProductPublic:
    # Another vendor's id is 404, as everywhere a vendor reaches beyond its own.
    await vendor_in_scope(session, principal, body.vendor_id)
    tiers = validate_tiers(
        body.price_cents, [DomainTier(t.min_quantity, t.price_cents) for t in body.price_tiers]
    )
    if await session.get(Product, body.sku) is not None:
        raise Problem(ErrorCode.INVALID_STATE, f"a product with sku {body.sku} already exists")
    product = Product(
        sku=body.sku,
        vendor_id=body.vendor_id,
        title=body.title,
        price_cents=body.price_cents,
        currency=body.currency.lower(),
        weight_grams=body.weight_grams,
        low_stock_threshold=body.low_stock_threshold,
    )
    session.add(product)
    await session.flush()
    for tier in tiers:
        session.add(
            PriceTier(sku=body.sku, min_quantity=tier.min_quantity, price_cents=tier.price_cents)
        )
    await session.commit()
    return await _product_public(session, product)


@router.get("/products/{sku}", response_model=ProductPublic)
async def get_product(sku: str, _: AnyRole, session: SessionDep) -> ProductPublic:
    product = await session.get(Product, sku)
    if product is None:
        raise Problem(ErrorCode.NOT_FOUND, "no such product")
    return await _product_public(session, product)
