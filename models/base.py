"""Column helpers shared by the tables."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import BigInteger, Column, DateTime
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field


def utcnow() -> datetime:
    return datetime.now(UTC)


def timestamp(*, nullable: bool = False, index: bool = False) -> Any:
    # A fresh Column per table: SQLAlchemy columns cannot be shared between tables.
    return Field(
        default_factory=utcnow if not nullable else None,
        sa_column=Column(DateTime(timezone=True), nullable=nullable, index=index),
    )


def optional_timestamp() -> Any:
    return Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=True))


def json_column(*, default: Any = None) -> Any:
    factory = (lambda: {}) if default is None else default
    return Field(default_factory=factory, sa_column=Column(JSONB, nullable=False))


def money(*, default: int | None = None) -> Any:
    """A money amount in minor units: 64-bit, since $1,000,000 x 22 overflows an INTEGER."""
    if default is None:
        return Field(sa_type=BigInteger, nullable=False)
    return Field(default=default, sa_type=BigInteger, nullable=False)
