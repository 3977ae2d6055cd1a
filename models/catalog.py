"""Products and their price tiers."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel
from pydantic import Field as In
from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from models.base import money, timestamp
from models.request import RequestModel
from models.text import StorableText

MAX_PRICE_CENTS = 100_000_000


class Product(SQLModel, table=True):
    sku: str = Field(primary_key=True, max_length=64)
    vendor_id: str = Field(foreign_key="vendor.id", index=True)
    title: str = Field(max_length=300)
    price_cents: int = money()
    currency: str = Field(max_length=3)
    weight_grams: int
    # Available units below which the vendor is told (None: never).
    low_stock_threshold: int | None = None
    # Grows with every stock change of this SKU, in the same transaction: the Redis gate
    # applies a published count only if it is newer than the one it has.
    stock_version: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    created_at: datetime = timestamp()


class PriceTier(SQLModel, table=True):
    __tablename__ = "price_tier"
    __table_args__ = (UniqueConstraint("sku", "min_quantity"),)
    id: int | None = Field(default=None, primary_key=True)
    sku: str = Field(foreign_key="product.sku", index=True)
    min_quantity: int
    price_cents: int = money()


class PriceTierIn(RequestModel):
    min_quantity: int = In(ge=2, le=10_000)
    # A tier is a discount: never above the base price's own bound.
    price_cents: int = In(ge=0, le=MAX_PRICE_CENTS)


class ProductCreate(RequestModel):
    vendor_id: StorableText = In(min_length=1, max_length=40)
    sku: StorableText = In(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    title: StorableText = In(min_length=1, max_length=300)
    price_cents: int = In(ge=0, le=MAX_PRICE_CENTS)
    currency: StorableText = In(pattern=r"^[A-Za-z]{3}$")
    weight_grams: int = In(ge=0, le=1_000_000)
    price_tiers: list[PriceTierIn] = In(default_factory=list, max_length=20)
    low_stock_threshold: int | None = In(default=None, ge=0, le=100_000_000)


class ProductPublic(BaseModel):
    sku: str
    vendor_id: str
    title: str
    price_cents: int
    currency: str
    weight_grams: int
    price_tiers: list[PriceTierIn]
    low_stock_threshold: int | None = None
