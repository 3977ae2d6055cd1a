"""A vendor's own settings beyond onboarding: service level and notification endpoint
(extensions of API.md's vendor calls)."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from api.deps import OpsOrVendor, SessionDep, SettingsDep, ensure_vendor_scope, vendor_in_scope
from api.webhook_urls import ResolverDep, vet_webhook_url
from domain.durations import parse_duration
from domain.signing import new_secret
from models.vendor import (
    VendorPublic,
    VendorUpdate,
    WebhookEndpoint,
    WebhookEndpointPublic,
)

router = APIRouter(prefix="/v1/vendors", tags=["catalog and stock"])


@router.patch("/{vendor_id}", response_model=VendorPublic)
async def update_vendor(
    vendor_id: str, body: VendorUpdate, principal: OpsOrVendor, session: SessionDep
) -> VendorPublic:
    """Change the ship SLA (applies to orders placed from now on) or the labels' transit limit."""
    vendor = await vendor_in_scope(session, principal, vendor_id, lock=True)
    if body.ship_sla is not None:
        vendor.ship_sla_seconds = int(parse_duration(body.ship_sla).total_seconds())
    if "max_transit_days" in body.model_fields_set:
        vendor.max_transit_days = body.max_transit_days
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
