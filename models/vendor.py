"""Vendors, their warehouses and their API keys."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Literal

from pydantic import AfterValidator, AnyHttpUrl, BaseModel, EmailStr, field_validator
from pydantic import Field as In
from sqlmodel import Field, SQLModel

from domain.durations import format_duration, parse_duration
from domain.outbound_urls import MAX_URL_LENGTH
from domain.vendor_status import VendorStatus
from domain.warehouse_address import STREET_LINE_MAX, missing_for_labels
from models.base import optional_timestamp, timestamp
from models.request import RequestModel
from models.text import StorableText

# The name of the key minted with the vendor (POST /v1/vendors).
FIRST_KEY_NAME = "initial"

# The longest ship SLA a vendor may set: ship_sla_seconds is a 32-bit column, and a wait of
# years is a mistake, not a service level.
MAX_SHIP_SLA = timedelta(days=365)
# What happens to a vendor order its supplier rejects (issue 13): cancelled and refunded, or
# moved to another of the vendor's warehouses that can hold it (cancelled if none can).
OnReject = Literal["cancel", "reroute"]


def _ship_sla(value: str | int | float, name: str = "ship_sla") -> str | int | float:
    sla = parse_duration(value)
    if sla.total_seconds() <= 0:
        raise ValueError(f"{name} must be longer than zero")
    if sla > MAX_SHIP_SLA:
        raise ValueError(f"{name} must be at most {format_duration(MAX_SHIP_SLA)}")
    return value


def _ack_sla(value: str | int | float | None) -> str | int | float | None:
    return None if value is None else _ship_sla(value, "ack_sla")


class VendorBase(SQLModel):
    name: str = Field(min_length=1, max_length=200)
    email: str = Field(max_length=320)
    commission_bps: int = Field(default=1000, ge=0, le=10_000)
    stripe_account_id: str | None = Field(default=None, max_length=64)


class Vendor(VendorBase, table=True):
    id: str = Field(primary_key=True, max_length=40)
    ship_sla_seconds: int
    # Labels bought for this vendor take the cheapest rate arriving within this many days
    # (None: the cheapest of all).
    max_transit_days: int | None = None
    # Where the vendor's notifications are POSTed, and the secret they are signed with.
    webhook_url: str | None = Field(default=None, max_length=MAX_URL_LENGTH)
    webhook_secret: str | None = Field(default=None, max_length=80)
    # Its orders wait to be accepted or rejected within this many seconds (None: they need
    # no acknowledgement), and what a rejection does.
    ack_sla_seconds: int | None = None
    on_reject: str = Field(default="cancel", max_length=10)
    # Its lifecycle (domain/vendor_status.py): only an active vendor's products are sold.
    status: str = Field(default="active", max_length=12, index=True)
    status_reason: str | None = Field(default=None, max_length=500)
    status_changed_at: datetime | None = optional_timestamp()
    created_at: datetime = timestamp()


class VendorCreate(RequestModel):
    name: StorableText = In(min_length=1, max_length=200)
    email: EmailStr
    # None: the platform's default (FULFILLMENT_COMMISSION_BPS).
    commission_bps: int | None = In(default=None, ge=0, le=10_000)
    ship_sla: str | int | float = "PT72H"
    stripe_account_id: StorableText | None = In(
        default=None, max_length=64, pattern=r"^acct_[A-Za-z0-9]+$"
    )
    # Labels bought for this vendor arrive within this many days (None: cheapest of all).
    max_transit_days: int | None = In(default=None, ge=1, le=60)
    # Where notifications are POSTed (signed; docs/vendor-webhooks.md).
    webhook_url: AnyHttpUrl | None = None
    # Set: every order must be accepted or rejected within it (docs/supplier-acknowledgement.md).
    ack_sla: str | int | float | None = None
    on_reject: OnReject = "cancel"
    # `pending`: its products cannot be bought until ops activate it (docs/listings.md).
    status: Literal["active", "pending"] = "active"

    @field_validator("ship_sla")
    @classmethod
    def _valid_duration(cls, value: str | int | float) -> str | int | float:
        return _ship_sla(value)

    @field_validator("ack_sla")
    @classmethod
    def _valid_ack_sla(cls, value: str | int | float | None) -> str | int | float | None:
        return _ack_sla(value)


class VendorPublic(SQLModel):
    id: str
    name: str
    email: str
    commission_bps: int
    ship_sla: str
    stripe_account_id: str | None
    max_transit_days: int | None = None
    webhook_url: str | None = None
    ack_sla: str | None = None
    on_reject: str = "cancel"
    status: VendorStatus = VendorStatus.ACTIVE
    status_reason: str | None = None
    status_changed_at: datetime | None = None

    @classmethod
    def of(cls, vendor: Vendor) -> VendorPublic:
        ack = vendor.ack_sla_seconds
        return cls(
            id=vendor.id,
            name=vendor.name,
            email=vendor.email,
            commission_bps=vendor.commission_bps,
            ship_sla=format_duration(timedelta(seconds=vendor.ship_sla_seconds)),
            stripe_account_id=vendor.stripe_account_id,
            max_transit_days=vendor.max_transit_days,
            webhook_url=vendor.webhook_url,
            ack_sla=None if ack is None else format_duration(timedelta(seconds=ack)),
            on_reject=vendor.on_reject,
            status=VendorStatus(vendor.status),
            status_reason=vendor.status_reason,
            status_changed_at=vendor.status_changed_at,
        )


class VendorWithKey(VendorPublic):
    api_key: str
    # The secret notifications are signed with, shown once (with a webhook_url).
    webhook_secret: str | None = None


class VendorUpdate(RequestModel):
    """Fields a vendor (or ops) may change; absent ones stay as they are."""

    ship_sla: str | int | float | None = None
    max_transit_days: int | None = In(default=None, ge=1, le=60)
    # null turns acknowledgement off (for orders placed from now on).
    ack_sla: str | int | float | None = None
    on_reject: OnReject | None = None

    @field_validator("ship_sla")
    @classmethod
    def _valid_duration(cls, value: str | int | float | None) -> str | int | float | None:
        return None if value is None else _ship_sla(value)

    @field_validator("ack_sla")
    @classmethod
    def _valid_ack_sla(cls, value: str | int | float | None) -> str | int | float | None:
        return _ack_sla(value)


class WebhookEndpoint(RequestModel):
    # Judged by domain/outbound_urls.py when set and at every delivery: https (http in dev),
    # no user@, a public address (FULFILLMENT_WEBHOOK_ALLOWED_HOSTS excepted), at most
    # MAX_URL_LENGTH characters.
    url: AnyHttpUrl


class WebhookEndpointPublic(BaseModel):
    url: str
    # Shown when set: keep it to verify signatures (docs/vendor-webhooks.md).
    secret: str


class ApiKey(SQLModel, table=True):
    """A vendor's key, stored as its SHA-256: a leaked table does not leak keys."""

    __tablename__ = "api_key"
    id: str = Field(primary_key=True, max_length=40)
    key_hash: str = Field(unique=True, max_length=64)
    prefix: str = Field(max_length=16)
    role: str = Field(max_length=16)
    vendor_id: str = Field(foreign_key="vendor.id", index=True)
    # The vendor's own label for it ("warehouse scanner", "erp-2027").
    name: str = Field(default=FIRST_KEY_NAME, max_length=100)
    created_at: datetime = timestamp()
    # Written at most once a minute per key (api/deps.py): a hint for rotation, not an audit.
    last_used_at: datetime | None = optional_timestamp()
    # A revoked key is kept (who had which key, until when) and never accepted again.
    revoked_at: datetime | None = optional_timestamp()


class ApiKeyCreate(RequestModel):
    name: StorableText = In(min_length=1, max_length=100)


class ApiKeyPublic(BaseModel):
    """A key as listed: never the secret, only its first characters to recognise it."""

    id: str
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None

    @classmethod
    def of(cls, key: ApiKey) -> ApiKeyPublic:
        return cls(
            id=key.id,
            name=key.name,
            prefix=key.prefix,
            created_at=key.created_at,
            last_used_at=key.last_used_at,
        )


class ApiKeyWithSecret(ApiKeyPublic):
    # Shown only in the answer that minted it.
    api_key: str


class WarehouseBase(SQLModel):
    name: str = Field(min_length=1, max_length=200)
    postal_code: str = Field(min_length=1, max_length=20)
    country: str = Field(min_length=2, max_length=2)
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)
    # The street address labels leave from (docs/warehouse-addresses.md): optional, since
    # warehouses were first created without it; no label is bought until it is complete.
    address_line1: str | None = Field(default=None, max_length=STREET_LINE_MAX)
    address_line2: str | None = Field(default=None, max_length=STREET_LINE_MAX)
    city: str | None = Field(default=None, max_length=100)
    state: str | None = Field(default=None, max_length=50)
    # Printed on the label for the carrier to call (some need one for international parcels).
    phone: str | None = Field(default=None, max_length=30)


class Warehouse(WarehouseBase, table=True):
    id: str = Field(primary_key=True, max_length=40)
    vendor_id: str = Field(foreign_key="vendor.id", index=True)
    created_at: datetime = timestamp()

    def missing_for_labels(self) -> list[str]:
        return missing_for_labels(
            address_line1=self.address_line1,
            city=self.city,
            state=self.state,
            country=self.country,
        )


def _filled(value: str | None) -> str | None:
    # A blank line is no address: refused, not stored as if it were one.
    if value is not None and not value.strip():
        raise ValueError("must not be blank")
    return None if value is None else value.strip()


Line = Annotated[StorableText, AfterValidator(_filled)]
_PHONE = r"^\+?[0-9][0-9 ()./-]{3,28}[0-9]$"


class WarehouseAddressIn(RequestModel):
    """The street address of a warehouse, as a request sends it (all optional)."""

    address_line1: Line | None = In(default=None, min_length=1, max_length=STREET_LINE_MAX)
    address_line2: Line | None = In(default=None, min_length=1, max_length=STREET_LINE_MAX)
    city: Line | None = In(default=None, min_length=1, max_length=100)
    state: Line | None = In(default=None, min_length=1, max_length=50)
    phone: StorableText | None = In(default=None, max_length=30, pattern=_PHONE)


class WarehouseCreate(WarehouseAddressIn):
    # Its own shape, not WarehouseBase's: request text is checked before it reaches a column.
    name: StorableText = In(min_length=1, max_length=200)
    postal_code: StorableText = In(min_length=1, max_length=20)
    country: StorableText = In(min_length=2, max_length=2)
    latitude: float = In(ge=-90, le=90)
    longitude: float = In(ge=-180, le=180)


class WarehouseUpdate(WarehouseAddressIn):
    """PATCH: the fields sent change (null clears an address field); absent ones stay.
    Where the warehouse is (postal code, country, coordinates) routes stock and is not
    changed here: a warehouse that moved is a new warehouse."""

    name: StorableText | None = In(default=None, min_length=1, max_length=200)

    @field_validator("name")
    @classmethod
    def _named(cls, value: str | None) -> str | None:
        if value is None:
            raise ValueError("a warehouse keeps a name")
        return value


class WarehousePublic(WarehouseBase):
    id: str
    vendor_id: str
    # What a label from this warehouse still needs (empty: labels can be bought).
    missing_for_labels: list[str] = []

    @classmethod
    def of(cls, warehouse: Warehouse) -> WarehousePublic:
        return cls(
            **warehouse.model_dump(exclude={"created_at"}),
            missing_for_labels=warehouse.missing_for_labels(),
        )


class VendorStatusChange(RequestModel):
    """Why ops activate or suspend a vendor (kept on the vendor as `status_reason`)."""

    reason: StorableText | None = In(default=None, min_length=1, max_length=500)


class VendorSuspension(RequestModel):
    reason: StorableText = In(min_length=1, max_length=500)
