"""Vendors, warehouses, products and stock (API.md, "Catalog and stock")."""

from __future__ import annotations

import secrets

from fastapi import APIRouter, status
from sqlmodel import col, select

from api.auth import Role, hash_key, mint_vendor_key
from api.deps import (
    AnyRole,
    Ops,
    OpsOrVendor,
    SessionDep,
    SettingsDep,
    StripeDep,
    vendor_in_scope,
)
from api.errors import Problem
from api.webhook_urls import ResolverDep, vet_webhook_url
from domain.durations import parse_duration
from domain.errors import ErrorCode
from domain.pricing import PriceTier as DomainTier
from domain.pricing import validate_tiers
from domain.signing import new_secret
from models.catalog import PriceTier, PriceTierIn, Product, ProductCreate, ProductPublic
from models.vendor import (
    ApiKey,
    Vendor,
    VendorCreate,
    VendorPublic,
    VendorWithKey,
    Warehouse,
    WarehouseCreate,
    WarehousePublic,
)
from providers.errors import ProviderError

router = APIRouter(prefix="/v1", tags=["catalog and stock"])


@router.post("/vendors", status_code=status.HTTP_201_CREATED, response_model=VendorWithKey)
async def create_vendor(
    body: VendorCreate,
    _: Ops,
    session: SessionDep,
    stripe: StripeDep,
    settings: SettingsDep,
    resolve: ResolverDep,
) -> VendorWithKey:
    # The webhook URL is judged like PUT .../webhook (never loopback, private, metadata...),
    # before a Stripe account is opened for a vendor that would then be refused.
    webhook_url = (
        await vet_webhook_url(str(body.webhook_url), settings, resolve)
        if body.webhook_url
        else None
    )
    vendor_id = "ven_" + secrets.token_hex(8)
    account = body.stripe_account_id
    if account is None:
        try:
            account = await stripe.create_connected_account(
                email=str(body.email),
                idempotency_key=f"vendor:{vendor_id}:account",
                metadata={"vendor_id": vendor_id},
            )
        except ProviderError as error:
            raise Problem(
                ErrorCode.UNAVAILABLE, f"could not open a Stripe account: {error}"
            ) from error
    vendor = Vendor(
        id=vendor_id,
        name=body.name,
        email=str(body.email),
        commission_bps=(
            settings.default_commission_bps if body.commission_bps is None else body.commission_bps
        ),
        ship_sla_seconds=int(parse_duration(body.ship_sla).total_seconds()),
        stripe_account_id=account,
        max_transit_days=body.max_transit_days,
        webhook_url=webhook_url,
        webhook_secret=new_secret() if webhook_url else None,
    )
    key = mint_vendor_key()
    session.add(vendor)
    await session.flush()
    session.add(
        ApiKey(
            id="key_" + secrets.token_hex(8),
            key_hash=hash_key(key),
            prefix=key[:10],
            role=Role.VENDOR,
            vendor_id=vendor_id,
        )
    )
    await session.commit()
    return VendorWithKey(
        **VendorPublic.of(vendor).model_dump(), api_key=key, webhook_secret=vendor.webhook_secret
    )


@router.get("/vendors/{vendor_id}", response_model=VendorPublic)
async def get_vendor(vendor_id: str, principal: OpsOrVendor, session: SessionDep) -> VendorPublic:
    return VendorPublic.of(await vendor_in_scope(session, principal, vendor_id))


@router.post(
    "/vendors/{vendor_id}/warehouses",
    status_code=status.HTTP_201_CREATED,
    response_model=WarehousePublic,
)
async def create_warehouse(
    vendor_id: str, body: WarehouseCreate, principal: OpsOrVendor, session: SessionDep
) -> WarehousePublic:
    await vendor_in_scope(session, principal, vendor_id)
    warehouse = Warehouse(id="wh_" + secrets.token_hex(8), vendor_id=vendor_id, **body.model_dump())
    session.add(warehouse)
    await session.commit()
    return WarehousePublic(**warehouse.model_dump())


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
    if principal.role == Role.VENDOR and principal.vendor_id != body.vendor_id:
        raise Problem(ErrorCode.FORBIDDEN, "a vendor creates products only under its own vendor_id")
    if await session.get(Vendor, body.vendor_id) is None:
        raise Problem(ErrorCode.VALIDATION_ERROR, "vendor_id names no vendor", field="vendor_id")
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
