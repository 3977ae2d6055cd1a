"""Stock per SKU per warehouse, and the reservations held against it."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field as In
from sqlalchemy import BigInteger, CheckConstraint, Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from models.base import optional_timestamp, timestamp
from models.request import RequestModel
from models.text import StorableText

# The most units one stock level may hold. The columns are 32-bit: without a bound, repeated
# adjustments overflow them; a level is refused past this, whichever way it is reached.
MAX_ON_HAND = 100_000_000


class StockLevel(SQLModel, table=True):
    __tablename__ = "stock_level"
    # The database refuses what the code must never do: sell what is not there.
    __table_args__ = (
        CheckConstraint("reserved >= 0", name="reserved_not_negative"),
        CheckConstraint("on_hand >= reserved", name="on_hand_covers_reserved"),
    )
    sku: str = Field(foreign_key="product.sku", primary_key=True, max_length=64)
    warehouse_id: str = Field(foreign_key="warehouse.id", primary_key=True, max_length=40)
    on_hand: int = 0
    reserved: int = 0
    updated_at: datetime = timestamp()


class Reservation(SQLModel, table=True):
    """Stock held for one line of one order in one warehouse.

    Keyed by (order, line, warehouse) so a retried reserve activity holds nothing twice.
    """

    __table_args__ = (UniqueConstraint("order_id", "line_no", "warehouse_id"),)
    id: int | None = Field(default=None, primary_key=True)
    order_id: str = Field(index=True, max_length=40)
    line_no: int
    sku: str = Field(foreign_key="product.sku", max_length=64)
    warehouse_id: str = Field(foreign_key="warehouse.id", max_length=40)
    quantity: int
    status: str = Field(default="held", max_length=16)  # held | released | committed
    created_at: datetime = timestamp()
    expires_at: datetime | None = optional_timestamp()


class StockMovementBase(SQLModel):
    sku: str = Field(index=True, max_length=64)
    warehouse_id: str = Field(max_length=40)
    on_hand_delta: int
    reserved_delta: int
    on_hand_before: int
    on_hand_after: int
    reserved_before: int
    reserved_after: int
    reason: str = Field(max_length=200)
    actor: str = Field(max_length=80)
    order_id: str | None = Field(default=None, max_length=40)
    low_stock: bool = False  # this change took available stock below the threshold


class StockMovement(StockMovementBase, table=True):
    """Every change of a stock level, audited: who, why, by how much, before and after."""

    __tablename__ = "stock_movement"
    id: int | None = Field(default=None, sa_column=Column(BigInteger, primary_key=True))
    at: datetime = timestamp(index=True)


class StockMovementPublic(StockMovementBase):
    at: datetime


class StockLevelIn(RequestModel):
    on_hand: int = In(ge=0, le=MAX_ON_HAND)


class AdjustmentIn(RequestModel):
    delta: int = In(ge=-MAX_ON_HAND, le=MAX_ON_HAND)
    reason: StorableText = In(min_length=1, max_length=200)


class StockLevelPublic(SQLModel):
    sku: str
    warehouse_id: str
    on_hand: int
    reserved: int
    available: int

    @classmethod
    def of(cls, level: StockLevel) -> StockLevelPublic:
        return cls(
            sku=level.sku,
            warehouse_id=level.warehouse_id,
            on_hand=level.on_hand,
            reserved=level.reserved,
            available=max(level.on_hand - level.reserved, 0),
        )


class InventoryPublic(SQLModel):
    sku: str
    on_hand: int
    reserved: int
    available: int
    levels: list[StockLevelPublic]
