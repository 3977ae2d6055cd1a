"""The platform's (storefront's) event endpoints, the deliveries of order events to them, and
the outbox's read position over `order_event` (docs/platform-events.md). Tables and API shapes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, StrictInt, field_validator
from pydantic import Field as In
from sqlalchemy import BigInteger, Column, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from domain.outbound_urls import MAX_URL_LENGTH
from domain.platform_events import normal_subscription
from domain.secret_rotation import DEFAULT_EXPIRY_SECONDS, LONGEST_EXPIRY_SECONDS, previous_is_live
from models.base import json_column, optional_timestamp, timestamp, utcnow
from models.request import RequestModel
from models.text import StorableText

EndpointStatus = Literal["enabled", "disabled"]
DeliveryStatus = Literal["pending", "succeeded", "failed"]
# Attempts kept on a delivery row (the newest): days of doubling waits make a few dozen.
KEPT_ATTEMPTS = 50


class PlatformEndpoint(SQLModel, table=True):
    __tablename__ = "platform_webhook_endpoint"
    id: str = Field(primary_key=True, max_length=40)
    url: str = Field(max_length=MAX_URL_LENGTH)
    description: str | None = Field(default=None, max_length=500)
    event_types: list[str] = json_column(default=list)
    secret: str = Field(max_length=80)
    # The secret the last rotation replaced, signing beside `secret` until its expiry
    # (domain/secret_rotation.py); kept as `secret` is, since signing needs it in clear.
    previous_secret: str | None = Field(default=None, max_length=80)
    previous_secret_expires_at: datetime | None = optional_timestamp()
    status: str = Field(default="enabled", max_length=20, index=True)
    disabled_reason: str | None = Field(default=None, max_length=500)
    disabled_at: datetime | None = optional_timestamp()
    # Failures in a row, and since when: what disables an endpoint (domain.delivery_schedule).
    consecutive_failures: int = Field(default=0)
    failing_since: datetime | None = optional_timestamp()
    created_at: datetime = timestamp()
    updated_at: datetime = timestamp()


class PlatformDelivery(SQLModel, table=True):
    """One order event for one endpoint; its attempts are in `attempt_log`."""

    __tablename__ = "platform_webhook_delivery"
    __table_args__ = (
        UniqueConstraint("endpoint_id", "order_event_id"),
        # What the delivery loop asks: due pending deliveries, and the earlier ones of an order.
        Index("ix_platform_webhook_delivery_due", "status", "next_attempt_at"),
        Index(
            "ix_platform_webhook_delivery_order",
            "endpoint_id",
            "order_id",
            "order_event_id",
        ),
    )
    id: int | None = Field(default=None, sa_column=Column(BigInteger, primary_key=True))
    endpoint_id: str = Field(
        sa_column=Column(
            String(40),
            ForeignKey("platform_webhook_endpoint.id", ondelete="CASCADE"),
            nullable=False,
        )
    )
    order_event_id: int = Field(sa_column=Column(BigInteger, nullable=False))
    order_id: str = Field(max_length=40)
    event_type: str = Field(max_length=60)
    payload: dict[str, Any] = json_column()
    status: str = Field(default="pending", max_length=20)
    attempts: int = Field(default=0)
    next_attempt_at: datetime = timestamp()
    last_attempt_at: datetime | None = optional_timestamp()
    last_status_code: int | None = Field(default=None)
    last_error: str | None = Field(default=None, max_length=500)
    attempt_log: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSONB, nullable=False)
    )
    created_at: datetime = timestamp()
    updated_at: datetime = timestamp()


class PlatformOutbox(SQLModel, table=True):
    """Where the outbox's reading of `order_event` stands. Every id at or below `safe_id` has
    been fanned out; ids above it are read again until no transaction can still be writing
    one below (`seen_id` seen at `seen_at`, more than the commit lag ago)."""

    __tablename__ = "platform_event_outbox"
    name: str = Field(primary_key=True, max_length=40)
    safe_id: int = Field(sa_column=Column(BigInteger, nullable=False))
    seen_id: int = Field(sa_column=Column(BigInteger, nullable=False))
    seen_at: datetime = timestamp()
    # The first transaction id not yet given out when `seen_id` was seen: once every
    # transaction below it has ended (the snapshot's xmin passed it), none can still commit
    # an event at or below `seen_id`, however slow it was.
    seen_xid: int = Field(
        default=0, sa_column=Column(BigInteger, nullable=False, server_default="0")
    )


class PlatformEventFanned(SQLModel, table=True):
    """An order event above the outbox's `safe_id` already fanned out: read again, skipped.
    Removed once `safe_id` passes it."""

    __tablename__ = "platform_event_fanned"
    order_event_id: int = Field(sa_column=Column(BigInteger, primary_key=True))


# --- API shapes ---


class EndpointCreate(RequestModel):
    # Judged like a vendor's webhook URL (domain/outbound_urls.py) when set and at delivery.
    url: StorableText = In(min_length=1, max_length=MAX_URL_LENGTH)
    event_types: list[StorableText] = In(min_length=1, max_length=50)
    description: StorableText | None = In(default=None, max_length=500)

    @field_validator("event_types")
    @classmethod
    def _known_types(cls, value: list[str]) -> list[str]:
        return normal_subscription(value)


class SecretRotationRequest(RequestModel):
    # How long the secret being replaced still signs beside the new one (0: not at all).
    expire_current_after_seconds: StrictInt = In(
        default=DEFAULT_EXPIRY_SECONDS, ge=0, le=LONGEST_EXPIRY_SECONDS
    )


class EndpointPublic(BaseModel):
    id: str
    url: str
    description: str | None
    event_types: list[str]
    status: str
    disabled_reason: str | None
    disabled_at: datetime | None
    consecutive_failures: int
    failing_since: datetime | None
    # Until when the secret replaced by the last rotation also signs; null when none does.
    previous_secret_expires_at: datetime | None
    created_at: datetime

    @classmethod
    def of(cls, endpoint: PlatformEndpoint, now: datetime | None = None) -> EndpointPublic:
        shown = cls.model_validate(endpoint, from_attributes=True)
        expires = endpoint.previous_secret_expires_at
        if not previous_is_live(expires, now or utcnow()):
            # Expired: it signs nothing any more, so it is not shown as if it did.
            shown.previous_secret_expires_at = None
        return shown


class EndpointWithSecret(EndpointPublic):
    # Shown once, here (and in a rotation's answer): keep it to verify signatures
    # (docs/platform-events.md).
    secret: str


class AttemptPublic(BaseModel):
    at: datetime
    status_code: int | None
    error: str | None
    duration_ms: int


class DeliveryPublic(BaseModel):
    id: int
    endpoint_id: str
    event_id: str
    event_type: str
    order_id: str
    status: str
    attempts: int
    next_attempt_at: datetime | None
    last_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    payload: dict[str, Any]
    attempt_log: list[AttemptPublic]

    @classmethod
    def of(cls, delivery: PlatformDelivery) -> DeliveryPublic:
        return cls(
            id=delivery.id or 0,
            endpoint_id=delivery.endpoint_id,
            event_id=str(delivery.payload.get("id", "")),
            event_type=delivery.event_type,
            order_id=delivery.order_id,
            status=delivery.status,
            attempts=delivery.attempts,
            next_attempt_at=delivery.next_attempt_at if delivery.status == "pending" else None,
            last_attempt_at=delivery.last_attempt_at,
            last_status_code=delivery.last_status_code,
            last_error=delivery.last_error,
            created_at=delivery.created_at,
            payload=delivery.payload,
            attempt_log=[AttemptPublic.model_validate(a) for a in delivery.attempt_log],
        )


__all__ = [
    "KEPT_ATTEMPTS",
    "AttemptPublic",
    "DeliveryPublic",
    "DeliveryStatus",
    "EndpointCreate",
    "EndpointPublic",
    "EndpointStatus",
    "EndpointWithSecret",
    "PlatformDelivery",
    "PlatformEndpoint",
    "PlatformEventFanned",
    "PlatformOutbox",
    "SecretRotationRequest",
]
