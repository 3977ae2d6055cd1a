"""Vendors: onboarding by ops (a Stripe Connect account and an API key), warehouses, and a
vendor's own settings: service level and notification endpoint (API.md, "Catalog and stock",
and its extensions)."""

from __future__ import annotations

from fastapi import APIRouter, Response, status
from sqlmodel import col, select

from api.auth import Role, hash_key, mint_vendor_key
from api.deps import (
    Ops,
    OpsOrVendor,
    SessionDep,
    SettingsDep,
    StripeDep,
    ensure_vendor_scope,
    vendor_in_scope,
)
from api.errors import Problem
from api.pagination import Page, PageParamsDep, after, page
from api.webhook_urls import ResolverDep, vet_webhook_url
from domain.durations import parse_duration
from domain.errors import ErrorCode
from domain.ids import (
    connected_account_idempotency_key,
    new_api_key_id,
    new_vendor_id,
    new_warehouse_id,
)
from domain.pagination import KeyShape
from domain.signing import new_secret
from models.vendor import (
    ApiKey,
    Vendor,
    VendorCreate,
    VendorPublic,
    VendorUpdate,
    VendorWithKey,
    Warehouse,
    WarehouseCreate,
    WarehousePublic,
    WarehouseUpdate,
    WebhookEndpoint,
    WebhookEndpointPublic,
)
from providers.errors import ProviderError

router = APIRouter(prefix="/v1/vendors", tags=["catalog and stock"])

WAREHOUSES = KeyShape("vendor_warehouses", (str,))


@router.post("", status_code=status.HTTP_201_CREATED, response_model=VendorWithKey)
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
    vendor_id = new_vendor_id()
    account = body.stripe_account_id
    if account is None:
        try:
            account = await stripe.create_connected_account(
                email=str(body.email),
                idempotency_key=connected_account_idempotency_key(vendor_id),
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
        ack_sla_seconds=None if body.ack_sla is None else _seconds(body.ack_sla),
        on_reject=body.on_reject,
        status=body.status,
    )
    key = mint_vendor_key()
    session.add(vendor)
    await session.flush()
    session.add(
        ApiKey(
            id=new_api_key_id(),
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


@router.get("/{vendor_id}", response_model=VendorPublic)
async def get_vendor(vendor_id: str, principal: OpsOrVendor, session: SessionDep) -> VendorPublic:
    return VendorPublic.of(await vendor_in_scope(session, principal, vendor_id))


@router.post(
    "/{vendor_id}/warehouses",
    status_code=status.HTTP_201_CREATED,
    response_model=WarehousePublic,
)
async def create_warehouse(
    vendor_id: str, body: WarehouseCreate, principal: OpsOrVendor, session: SessionDep
) -> WarehousePublic:
    await vendor_in_scope(session, principal, vendor_id)
    warehouse = Warehouse(id=new_warehouse_id(), vendor_id=vendor_id, **body.model_dump())
    session.add(warehouse)
    await session.commit()
    return WarehousePublic.of(warehouse)


@router.get("/{vendor_id}/warehouses", response_model=Page[WarehousePublic])
async def list_warehouses(
    vendor_id: str, principal: OpsOrVendor, session: SessionDep, params: PageParamsDep
) -> Page[WarehousePublic]:
    """The vendor's warehouses by id, each with `missing_for_labels`: the vendor app shows
    which need their street address before a label can leave from them."""
    await vendor_in_scope(session, principal, vendor_id)
    query = select(Warehouse).where(Warehouse.vendor_id == vendor_id)
    start = after(params, WAREHOUSES)
    if start is not None:
        query = query.where(col(Warehouse.id) > start[0])
    rows = list(await session.exec(query.order_by(col(Warehouse.id)).limit(params.fetch)))
    return page(rows, params, WAREHOUSES, lambda w: (w.id,), WarehousePublic.of)


@router.patch("/{vendor_id}/warehouses/{warehouse_id}", response_model=WarehousePublic)
async def update_warehouse(
    vendor_id: str,
    warehouse_id: str,
    body: WarehouseUpdate,
    principal: OpsOrVendor,
    session: SessionDep,
) -> WarehousePublic:
    """Set or change the warehouse's name and street address (labels bought from now on
    leave from it; docs/warehouse-addresses.md). Fields sent change, null clears an address
    field, absent ones stay."""
    await vendor_in_scope(session, principal, vendor_id)
    warehouse = await session.get(Warehouse, warehouse_id, with_for_update=True)
    if warehouse is None or warehouse.vendor_id != vendor_id:
        raise Problem(ErrorCode.NOT_FOUND, "no such warehouse")
    for field, value in body.model_dump(include=body.model_fields_set).items():
        setattr(warehouse, field, value)
    session.add(warehouse)
    await session.commit()
    await session.refresh(warehouse)
    return WarehousePublic.of(warehouse)


@router.patch("/{vendor_id}", response_model=VendorPublic)
async def update_vendor(
    vendor_id: str, body: VendorUpdate, principal: OpsOrVendor, session: SessionDep
) -> VendorPublic:
    """Change the ship SLA, the acknowledgement rules (both apply to orders placed from now
    on) or the labels' transit limit."""
    vendor = await vendor_in_scope(session, principal, vendor_id, lock=True)
    if body.ship_sla is not None:
        vendor.ship_sla_seconds = int(parse_duration(body.ship_sla).total_seconds())
    if "max_transit_days" in body.model_fields_set:
        vendor.max_transit_days = body.max_transit_days
    if "ack_sla" in body.model_fields_set:
        vendor.ack_sla_seconds = None if body.ack_sla is None else _seconds(body.ack_sla)
    if body.on_reject is not None:
        vendor.on_reject = body.on_reject
    session.add(vendor)
    await session.commit()
    await session.refresh(vendor)
    return VendorPublic.of(vendor)


@router.put("/{vendor_id}/webhook", response_model=WebhookEndpointPublic)
async def set_webhook(
    vendor_id: str,
    body: WebhookEndpoint,
    principal: OpsOrVendor,
    session: SessionDep,
    settings: SettingsDep,
    resolve: ResolverDep,
) -> WebhookEndpointPublic:
    """Register (or move) the notification endpoint. Each call mints a new signing secret,
    so this is also how a leaked secret is rotated. A URL the platform must not call
    (loopback, private, link-local, metadata...) is refused with 422 and changes nothing."""
    ensure_vendor_scope(principal, vendor_id)
    # Judged (and resolved) before the vendor's row is locked: DNS can be slow.
    url = await vet_webhook_url(str(body.url), settings, resolve)
    vendor = await vendor_in_scope(session, principal, vendor_id, lock=True)
    vendor.webhook_url = url
    vendor.webhook_secret = new_secret()
    session.add(vendor)
    await session.commit()
    return WebhookEndpointPublic(url=url, secret=vendor.webhook_secret)


@router.delete("/{vendor_id}/webhook", status_code=status.HTTP_204_NO_CONTENT)
async def remove_webhook(vendor_id: str, principal: OpsOrVendor, session: SessionDep) -> Response:
    vendor = await vendor_in_scope(session, principal, vendor_id, lock=True)
    vendor.webhook_url = None
    vendor.webhook_secret = None
    session.add(vendor)
    await session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def _seconds(duration: str | int | float) -> int:
    return int(parse_duration(duration).total_seconds())
