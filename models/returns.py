"""Returns: a buyer sends back some units of a delivered vendor order; when the vendor
receives them they are refunded (and restocked if the vendor says so)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel
from pydantic import Field as In
from sqlmodel import Field, SQLModel

from models.base import money, optional_timestamp, timestamp
from models.request import RequestModel
from models.text import StorableText


class OrderReturn(SQLModel, table=True):
    __tablename__ = "order_return"
    id: str = Field(primary_key=True, max_length=40)
    order_id: str = Field(foreign_key="orders.id", index=True)
    vendor_order_id: str = Field(foreign_key="vendor_order.id", index=True)
    # requested -> refunded (received), or expired (never received in time)
    status: str = Field(max_length=20, index=True)
    reason: str = Field(max_length=500)
    refund_cents: int = money()
    restocked: bool = False
    provider_refund_id: str | None = Field(default=None, max_length=64)
    requested_at: datetime = timestamp()
    received_at: datetime | None = optional_timestamp()
    updated_at: datetime = timestamp()


class OrderReturnLine(SQLModel, table=True):
    __tablename__ = "order_return_line"
    id: int | None = Field(default=None, primary_key=True)
    return_id: str = Field(foreign_key="order_return.id", index=True)
    sku: str = Field(max_length=64)
    quantity: int
    unit_price_cents: int = money()


class ReturnLineIn(RequestModel):
    sku: StorableText = In(min_length=1, max_length=64)
    quantity: int = In(gt=0, le=10_000)


class ReturnCreate(RequestModel):
    vendor_order_id: StorableText = In(min_length=1, max_length=40)
    lines: list[ReturnLineIn] = In(min_length=1, max_length=200)
    reason: StorableText = In(min_length=1, max_length=500)


class ReceiveBody(RequestModel):
    # Whether the units go back on the shelf (False for damaged goods).
    restock: bool = True


class ReturnLinePublic(BaseModel):
    sku: str
    quantity: int
    unit_price_cents: int


class ReturnPublic(BaseModel):
    id: str
    order_id: str
    vendor_order_id: str
    status: str
    reason: str
    lines: list[ReturnLinePublic]
    refund_cents: int
    restocked: bool
    requested_at: datetime
    received_at: datetime | None
