"""Answers kept for Idempotency-Key retries of mutating requests (issue 9, item 14).

One row per caller and key. While `completed_at` is null the request is still being answered
(by whoever holds `claim_token`, until `lease_until`); after that, `status_code` and the
response are the answer every retry gets again, until `expires_at`. A row completed with no
`status_code` only binds the key to its request: that route answers retries itself.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, DateTime, Integer, LargeBinary
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from models.base import optional_timestamp, timestamp


class IdempotencyRecord(SQLModel, table=True):
    __tablename__ = "idempotency_record"
    # "platform", "ops" or "vendor:<vendor id>": two callers never share a key.
    scope: str = Field(primary_key=True, max_length=60)
    key: str = Field(primary_key=True, max_length=255)
    method: str = Field(max_length=10)
    # For people reading the table; the fingerprint is what requests are compared by.
    path: str = Field(max_length=1000)
    fingerprint: str = Field(max_length=64)
    claim_token: str = Field(max_length=32)
    created_at: datetime = timestamp()
    lease_until: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    expires_at: datetime = timestamp(index=True)
    completed_at: datetime | None = optional_timestamp()
    status_code: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    # [[name, value], ...] as the route sent them (Content-Type, Location, Retry-After ...).
    response_headers: list[list[str]] | None = Field(
        default=None, sa_column=Column(JSONB, nullable=True)
    )
    response_body: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
