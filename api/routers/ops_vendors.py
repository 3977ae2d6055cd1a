"""Operators and vendors' lifecycle (issue 13, part 4): the vendors, page by page and by
status, and the two moves only ops make: activate (a pending or suspended vendor) and suspend
(an active one, with a reason). The rules are domain/vendor_status.py; what a status means
for checkout and for orders already placed is docs/listings.md.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Query
from sqlmodel import col, select

from api.deps import Ops, SessionDep
from api.errors import Problem
from api.keyset import in_time_order, time_key
from api.pagination import Page, PageParamsDep, page
from domain.errors import ErrorCode
from domain.pagination import KeyShape
from domain.vendor_status import VendorAction, VendorStatus, next_status
from models.base import utcnow
from models.vendor import Vendor, VendorPublic, VendorStatusChange, VendorSuspension

router = APIRouter(prefix="/v1/ops/vendors", tags=["operators"])

VENDORS = KeyShape("ops_vendors", (str, str))  # (created_at, id), oldest first


@router.get("", response_model=Page[VendorPublic])
async def list_vendors(
    _: Ops,
    session: SessionDep,
    params: PageParamsDep,
    status: Annotated[VendorStatus | None, Query()] = None,
) -> Page[VendorPublic]:
    """Every vendor (or those in `status`), oldest first."""
    query = select(Vendor)
    if status is not None:
        query = query.where(Vendor.status == status)
    query = in_time_order(
        query, col(Vendor.created_at), col(Vendor.id), params, VENDORS, newest_first=False
    )
    rows = list(await session.exec(query))
    return page(rows, params, VENDORS, lambda v: time_key(v.created_at, v.id), VendorPublic.of)


@router.post(
    "/{vendor_id}/activate",
    response_model=VendorPublic,
    responses={409: {"description": "already active (`invalid_state`, with `vendor_status`)"}},
)
async def activate_vendor(
    vendor_id: str,
    _: Ops,
    session: SessionDep,
    body: Annotated[VendorStatusChange | None, Body()] = None,
) -> VendorPublic:
    """A pending or suspended vendor's products can be bought again (from the next checkout)."""
    return await _move(session, vendor_id, VendorAction.ACTIVATE, (body and body.reason) or None)


@router.post(
    "/{vendor_id}/suspend",
    response_model=VendorPublic,
    responses={409: {"description": "not active (`invalid_state`, with `vendor_status`)"}},
)
async def suspend_vendor(
    vendor_id: str, body: VendorSuspension, _: Ops, session: SessionDep
) -> VendorPublic:
    """Its products can no longer be bought (409 `vendor_unavailable` at checkout); the
    orders it already has go on: it ships them, and is paid for them."""
    return await _move(session, vendor_id, VendorAction.SUSPEND, body.reason)


async def _move(
    session: SessionDep, vendor_id: str, action: VendorAction, reason: str | None
) -> VendorPublic:
    # Locked: two operators at once make one move, and the second meets its outcome.
    vendor = await session.get(Vendor, vendor_id, with_for_update=True, populate_existing=True)
    if vendor is None:
        raise Problem(ErrorCode.NOT_FOUND, "no such vendor")
    vendor.status = next_status(vendor.status, action)
    vendor.status_reason = reason
    vendor.status_changed_at = utcnow()
    session.add(vendor)
    await session.commit()
    await session.refresh(vendor)
    return VendorPublic.of(vendor)
