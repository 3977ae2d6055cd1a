"""Operators' calls beyond the storefront's (API.md, "Operators"; extended compatibly)."""

from __future__ import annotations

import hashlib
from typing import Annotated

from fastapi import APIRouter, Header
from pydantic import BaseModel, Field

from api.deps import Ops, SessionDep, TemporalDep
from api.errors import Problem
from api.routers.vendor_app import update_vendor_order
from api.views import vendor_order_view
from models.messages import RefundCommand, RefundOutcome
from models.vendor_order import VendorOrder
from models.views import VendorOrderPublic

router = APIRouter(prefix="/v1/ops", tags=["operators"])


class RefundBody(BaseModel):
    amount_cents: int = Field(ge=1, le=100_000_000)
    reason: str = Field(default="requested_by_customer", min_length=1, max_length=100)


@router.post("/vendor-orders/{vendor_order_id}/refunds", response_model=VendorOrderPublic)
async def refund_vendor_order(
    vendor_order_id: str,
    body: RefundBody,
    idempotency_key: Annotated[str, Header(alias="Idempotency-Key", min_length=1, max_length=255)],
    _: Ops,
    session: SessionDep,
    temporal: TemporalDep,
) -> VendorOrderPublic:
    """Give part of a vendor order's money back to the buyer. After the vendor was paid, the
    vendor's share is reversed (or, if its balance cannot cover it, netted later)."""
    vendor_order = await session.get(VendorOrder, vendor_order_id)
    if vendor_order is None:
        raise Problem("not_found", "no such vendor order")
    refundable = (
        vendor_order.subtotal_cents + vendor_order.shipping_cents - vendor_order.refunded_cents
    )
    if body.amount_cents > refundable:
        raise Problem(
            "validation_error",
            f"at most {refundable} cents are left to refund",
            refundable_cents=refundable,
        )
    key = hashlib.sha256(f"ops\0{idempotency_key}".encode()).hexdigest()[:32]
    command = RefundCommand(
        order_id=vendor_order.order_id,
        vendor_order_id=vendor_order.id,
        refund_key=key,
        amount_cents=body.amount_cents,
        reason=body.reason,
    )
    await update_vendor_order(temporal, vendor_order, "refund", command, RefundOutcome)
    return await vendor_order_view(session, vendor_order_id)
