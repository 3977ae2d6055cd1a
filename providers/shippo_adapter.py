"""Shipping labels and tracking on the official Shippo SDK: rates for a parcel, one label per
reference, tracking registration, and the ``track_updated`` webhook (read into plain data by
providers/shippo_tracking.py).

Shippo takes no idempotency key for a label, so this adapter makes buying one idempotent by
itself: the label carries the caller's reference as its metadata, and a purchase first looks for
a label bought with that reference. A retry after a lost answer returns the first label.

The SDK is synchronous (requests); the worker runs these methods in a thread pool, and each
thread gets its own HTTP session.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

import requests
import shippo
from shippo.models import components, operations
from shippo.models.errors import SDKError

from providers.errors import ProviderRejectedError, ProviderUnavailableError, sort_shippo_error
from providers.shippo_tracking import (
    TrackingUpdate,
    parse_track_updated,
    status_text,
    tracking_update,
)

# How far back a purchase looks for a label already bought with its reference: a retry comes
# soon after the first attempt, so its label is among the newest.
FIND_PAGES = 5
FIND_PAGE_SIZE = 100


@dataclass(frozen=True)
class Address:
    name: str
    street1: str
    city: str
    zip: str
    country: str
    state: str = ""
    email: str | None = None
    phone: str | None = None
    street2: str = ""


@dataclass(frozen=True)
class Parcel:
    length_cm: float
    width_cm: float
    height_cm: float
    weight_grams: int


@dataclass(frozen=True)
class Rate:
    rate_id: str
    carrier: str  # the carrier token tracking takes: "usps", "ups", "shippo", ...
    service_token: str
    service_name: str
    amount_cents: int
    currency: str  # lower case, as everywhere in this system: "usd"
    estimated_days: int | None


@dataclass(frozen=True)
class Label:
    transaction_id: str
    rate_id: str
    carrier: str
    tracking_number: str
    label_url: str
    cost_cents: int
    currency: str


class TimeoutSession(requests.Session):
    """A session with a default timeout: the SDK calls ``send`` without one, and requests
    would then wait for an answer forever."""

    def __init__(self, timeout: float) -> None:
        super().__init__()
        self.timeout = timeout

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.timeout
        return super().send(request, **kwargs)


@contextmanager
def _sorted_errors() -> Iterator[None]:
    try:
        yield
    except (SDKError, requests.RequestException) as exc:
        raise sort_shippo_error(exc) from exc
    except (KeyError, ValueError, AttributeError) as exc:
        # The SDK could not read an answer (a field missing, a value it does not know). The
        # call may have done its work, so it is not final: a retry looks before it buys.
        raise ProviderUnavailableError(
            "unreadable_response", f"the Shippo SDK could not read the answer: {exc!r}"
        ) from exc


class ShippoGateway:
    def __init__(self, api_key: str, base_url: str | None = None, timeout: float = 10.0) -> None:
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        # The SDK adds the "ShippoToken " scheme only to keys that start with "shippo_".
        if not api_key.startswith(("shippo_", "ShippoToken ")):
            api_key = f"ShippoToken {api_key}"
        self._api_key = api_key
        self._base_url = base_url.rstrip("/") if base_url else None
        self._timeout = timeout
        self._local = threading.local()
        self._sessions: list[requests.Session] = []
        self._lock = threading.Lock()

    @classmethod
    def connect(cls, api_key: str, base_url: str | None, timeout: float) -> ShippoGateway:
        return cls(api_key, base_url, timeout)

    def _sdk(self) -> shippo.Shippo:
        """This thread's SDK: requests sessions are not meant to be shared between threads."""
        sdk: shippo.Shippo | None = getattr(self._local, "sdk", None)
        if sdk is None:
            session = TimeoutSession(self._timeout)
            with self._lock:
                self._sessions.append(session)
            # No retry_config: the SDK then never retries, and Temporal owns retries.
            sdk = shippo.Shippo(
                api_key_header=self._api_key, server_url=self._base_url, client=session
            )
            self._local.sdk = sdk
        return sdk

    def rates(
        self, from_address: Address, to_address: Address, parcel: Parcel, reference: str
    ) -> list[Rate]:
        """The rates for one parcel, cheapest first (then fastest)."""
        request = components.ShipmentCreateRequest(
            address_from=_address(from_address),
            address_to=_address(to_address),
            parcels=[
                components.ParcelCreateRequest(
                    mass_unit=components.WeightUnitEnum.G,
                    weight=_text(parcel.weight_grams),
                    distance_unit=components.DistanceUnitEnum.CM,
                    length=_text(parcel.length_cm),
                    width=_text(parcel.width_cm),
                    height=_text(parcel.height_cm),
                )
            ],
            # Synchronous: the answer carries every rate instead of an empty QUEUED shipment.
            async_=False,
            metadata=reference,
        )
        with _sorted_errors():
            shipment = self._sdk().shipments.create(request)
        found = [_rate(rate) for rate in shipment.rates]
        return sorted(found, key=lambda r: (r.amount_cents, r.estimated_days or 1_000))

    def buy_label(self, rate_id: str, reference: str) -> Label:
        """The label bought with this reference, bought now unless it was bought before.

        Shippo answers a purchase with an ERROR transaction when the carrier refuses it:
        ``ProviderRejectedError("label_refused")``.
        """
        return self.label_for(reference, lambda: rate_id)

    def label_for(self, reference: str, choose_rate: Callable[[], str]) -> Label:
        """Like :meth:`buy_label`, with the rate chosen (``choose_rate``, which may ask for
        rates) only when no label was bought under this reference yet: one lookup either way."""
        pending = self._find(reference)
        if pending is not None:
            if pending.status == components.TransactionStatusEnum.SUCCESS:
                return self._label(pending)
            raise ProviderUnavailableError(
                "label_pending", f"the label for {reference} is still {status_text(pending.status)}"
            )
        request = components.TransactionCreateRequest(
            rate=choose_rate(),
            # The SDK's default is async=True, which answers QUEUED with no label yet.
            async_=False,
            label_file_type=components.LabelFileTypeEnum.PDF,
            metadata=reference,
        )
        with _sorted_errors():
            transaction = self._sdk().transactions.create(request)
        status = transaction.status
        if status == components.TransactionStatusEnum.ERROR:
            messages = "; ".join(m.text or m.code or "" for m in transaction.messages or [])
            raise ProviderRejectedError("label_refused", messages or "Shippo refused the label")
        if status != components.TransactionStatusEnum.SUCCESS:
            # Not ready yet: a retry finds this transaction by its reference and waits for it.
            raise ProviderUnavailableError(
                "label_pending", f"the label for {reference} is still {status_text(status)}"
            )
        return self._label(transaction)

    def find_label(self, reference: str) -> Label | None:
        """The label bought with this reference among the newest, if one was."""
        transaction = self._find(reference)
        if transaction is None or transaction.status != components.TransactionStatusEnum.SUCCESS:
            return None
        return self._label(transaction)

    def track(self, carrier: str, tracking_number: str, reference: str) -> TrackingUpdate:
        """Register the parcel for ``track_updated`` webhooks; its status now."""
        with _sorted_errors():
            track = self._sdk().tracking_status.create(
                carrier=carrier, tracking_number=tracking_number, metadata=reference
            )
        return tracking_update(
            track.carrier or carrier, track.tracking_number, track.tracking_status
        )

    def tracking_status(self, carrier: str, tracking_number: str) -> TrackingUpdate:
        """The parcel's status now, without registering it."""
        with _sorted_errors():
            track = self._sdk().tracking_status.get(
                tracking_number=tracking_number, carrier=carrier
            )
        return tracking_update(
            track.carrier or carrier, track.tracking_number, track.tracking_status
        )

    @staticmethod
    def parse_webhook(body: bytes) -> TrackingUpdate | None:
        """The tracking update a Shippo webhook carries; None for other events
        (:func:`providers.shippo_tracking.parse_track_updated`)."""
        return parse_track_updated(body)

    def close(self) -> None:
        with self._lock:
            sessions, self._sessions = self._sessions, []
        for session in sessions:
            session.close()

    def _find(self, reference: str) -> components.Transaction | None:
        """The newest transaction with this reference that succeeded or may still succeed."""
        usable = {
            components.TransactionStatusEnum.SUCCESS,
            components.TransactionStatusEnum.QUEUED,
            components.TransactionStatusEnum.WAITING,
        }
        for page in range(1, FIND_PAGES + 1):
            with _sorted_errors():
                listed = self._sdk().transactions.list(
                    operations.ListTransactionsRequest(page=page, results=FIND_PAGE_SIZE)
                )
            results = listed.results or []
            for transaction in results:
                if transaction.metadata == reference and transaction.status in usable:
                    return transaction
            if not listed.next or len(results) < FIND_PAGE_SIZE:
                return None
        return None

    def _label(self, transaction: components.Transaction) -> Label:
        rate = transaction.rate
        if isinstance(rate, str) or rate is None:
            # Shippo names the rate of a label bought from a rate by its id only.
            with _sorted_errors():
                full = self._sdk().rates.get(rate or "")
            rate_id, provider, amount, currency = (
                full.object_id,
                full.provider,
                full.amount,
                full.currency,
            )
        else:
            rate_id, provider, amount, currency = (
                rate.object_id or "",
                rate.provider or "",
                rate.amount or "",
                rate.currency or "",
            )
        return Label(
            transaction_id=transaction.object_id or "",
            rate_id=rate_id,
            carrier=carrier_token(provider),
            tracking_number=transaction.tracking_number or "",
            label_url=transaction.label_url or "",
            cost_cents=to_cents(amount),
            currency=currency.lower(),
        )


def carrier_token(provider: str) -> str:
    """The token /tracks takes from a rate's provider name: "USPS" -> "usps",
    "DHL Express" -> "dhl_express"."""
    return "_".join(provider.lower().split())


def to_cents(amount: str) -> int:
    """A decimal string of major units as integer minor units, exactly, halves rounded up."""
    try:
        cents = (Decimal(amount) * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    except (InvalidOperation, TypeError) as exc:
        raise ProviderUnavailableError(
            "unreadable_response", f"Shippo sent an amount that is not a number: {amount!r}"
        ) from exc
    return int(cents)


def _text(value: float) -> str:
    """A number as the decimal string the SDK sends: 30 -> "30", 10.5 -> "10.5"."""
    return format(Decimal(str(value)).normalize(), "f")


def _address(address: Address) -> components.AddressCreateRequest:
    return components.AddressCreateRequest(
        country=address.country,
        name=address.name,
        street1=address.street1,
        street2=address.street2 or None,
        city=address.city,
        state=address.state or None,
        zip=address.zip,
        email=address.email,
        phone=address.phone,
    )


def _rate(rate: components.Rate) -> Rate:
    level = rate.servicelevel
    return Rate(
        rate_id=rate.object_id,
        carrier=carrier_token(rate.provider),
        service_token=level.token or "",
        service_name=level.name or "",
        amount_cents=to_cents(rate.amount),
        currency=rate.currency.lower(),
        estimated_days=rate.estimated_days,
    )
