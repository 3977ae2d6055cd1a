"""Returns: asked for, received (and restocked), refunded or expired."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel


class ReturnUnits(BaseModel):
    sku: str
    quantity: int


class ReturnRequest(BaseModel):
    return_id: str
    lines: list[ReturnUnits]
    reason: str


class ReturnLineRecord(BaseModel):
    sku: str
    quantity: int
    unit_price_cents: int


class ReturnRecord(BaseModel):
    return_id: str
    order_id: str
    vendor_order_id: str
    lines: list[ReturnLineRecord]
    reason: str
    refund_cents: int
    requested_at: datetime


class ReceiveRequest(BaseModel):
    return_id: str
    restock: bool = True


class RestockRequest(BaseModel):
    return_id: str
    order_id: str
    vendor_order_id: str
    lines: list[ReturnUnits]


class ReturnClosing(BaseModel):
    return_id: str
    order_id: str
    vendor_order_id: str
    status: str  # refunded | expired
    at: datetime
    provider_refund_id: str | None = None
    restocked: bool = False


class ReturnState(BaseModel):
    return_id: str
    vendor_order_id: str
    status: str  # requested | refunded | expired
    refund_cents: int
