"""Running the Shippo emulator as its own process for tests, reaching its controls, and
receiving its webhooks (tests/emulators, tests/integration, tests/activities)."""

from __future__ import annotations

import functools
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, cast
from urllib.parse import parse_qs, urlsplit

import httpx
import shippo
from shippo.models import components

from devstack import free_port
from devstack.emulators import start_emulator
from providers.shippo_adapter import Address, Parcel, ShippoGateway, TimeoutSession
from tests.loopback_receiver import LoopbackReceiver

API_KEY = "shippo_test_emulator"
WEBHOOK_TOKEN = "shippo-webhook-test-token"
# Parcels of the test carrier step every 50 ms; failed webhooks come again within 0.2 s.
AUTO_ADVANCE_SECONDS = 0.05
FAST_RETRIES = "0.05,0.05,0.05,0.05"

WAREHOUSE = Address("Vendor Ltd", "1 Dock Road", "Newark", "07102", "US", state="NJ")
CUSTOMER = Address("Ada Buyer", "5 Market St", "San Francisco", "94105", "US", state="CA")
SMALL_BOX = Parcel(length_cm=20, width_cm=15, height_cm=10, weight_grams=500)


@contextmanager
def running_emulator(
    data_dir: Path,
    *,
    webhook_url: str | None = None,
    auto_advance_seconds: float = AUTO_ADVANCE_SECONDS,
    extra_args: Sequence[str] = (),
) -> Iterator[str]:
    """``python -m emulators.shippo`` on a free port; yields its base URL and stops
    it on the way out. Its state lives in ``data_dir/state.json``."""
    port = free_port()
    process = start_emulator(
        "emulators.shippo",
        port,
        data_dir / "state.json",
        data_dir / "emulator.log",
        [
            "--auto-advance-seconds",
            str(auto_advance_seconds),
            "--webhook-retry-schedule",
            FAST_RETRIES,
            *(["--webhook-url", webhook_url] if webhook_url else []),
            *extra_args,
        ],
        poll_interval=0.05,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        yield url
    finally:
        process.stop(timeout=5)


@functools.cache
def _http() -> httpx.Client:
    # One client for every call: building one (its TLS context above all) costs more than the
    # call. trust_env off: a developer's HTTP proxy must not swallow calls to localhost.
    return httpx.Client(timeout=5, trust_env=False)


def raw(method: str, url: str, **kwargs: Any) -> httpx.Response:
    """A plain HTTP request, for what the SDK would never send."""
    return _http().request(method, url, **kwargs)


def control(base_url: str, method: str, path: str, body: Any = None) -> Any:
    """The emulator's own test controls, plain JSON rather than Shippo's API."""
    response = raw(method, f"{base_url}{path}", json=body)
    response.raise_for_status()
    return response.json()


@contextmanager
def impatient_gateway(base_url: str) -> Iterator[ShippoGateway]:
    """A gateway that gives up on an answer after 0.2 s, so lost answers cost the test little."""
    gateway = ShippoGateway.connect(API_KEY, base_url, timeout=0.2)
    try:
        yield gateway
    finally:
        gateway.close()


def lose_label_answers(base_url: str) -> None:
    """Every label purchase is made, and its answer never comes; lists still answer."""
    control(
        base_url,
        "POST",
        "/_emulator/faults",
        {"rate": 1.0, "modes": ["timeout_after"], "methods": ["POST"], "paths": ["/transactions"]},
    )


def transactions_with(base_url: str, reference: str) -> list[dict[str, Any]]:
    """Every label the emulator sold with this reference as its metadata, duplicates included."""
    found = control(base_url, "GET", f"/_emulator/transactions?metadata={reference}")
    return cast(list[dict[str, Any]], found["results"])


def sdk_client(base_url: str, api_key: str = API_KEY, timeout: float = 5.0) -> shippo.Shippo:
    return shippo.Shippo(
        api_key_header=api_key, server_url=base_url, client=TimeoutSession(timeout)
    )


def shipment_request(
    weight_grams: int = 500,
    metadata: str = "",
    street1: str = "1 Dock Road",
    city: str = "Newark",
    zip_code: str = "07102",
) -> components.ShipmentCreateRequest:
    return components.ShipmentCreateRequest(
        address_from=components.AddressCreateRequest(
            country="US", name="Vendor Ltd", street1=street1, city=city, zip=zip_code
        ),
        address_to=components.AddressCreateRequest(
            country="US",
            name="Ada Buyer",
            street1="5 Market St",
            city="San Francisco",
            zip="94105",
        ),
        parcels=[
            components.ParcelCreateRequest(
                mass_unit=components.WeightUnitEnum.G,
                weight=str(weight_grams),
                distance_unit=components.DistanceUnitEnum.CM,
                length="20",
                width="15",
                height="10",
            )
        ],
        async_=False,
        metadata=metadata,
    )


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def unique_number(prefix: str) -> str:
    """A test carrier number of the given kind that no other test uses: SHIPPO_DELIVERED_..."""
    return f"{prefix}_{uuid.uuid4().hex[:12].upper()}"


@dataclass
class Received:
    path: str
    body: bytes

    @property
    def payload(self) -> dict[str, Any]:
        return cast(dict[str, Any], json.loads(self.body))

    @property
    def token(self) -> str | None:
        values = parse_qs(urlsplit(self.path).query).get("token")
        return values[0] if values else None

    @property
    def status(self) -> str:
        return cast(str, self.payload["data"]["tracking_status"]["status"])


class WebhookReceiver(LoopbackReceiver):
    """A small HTTP endpoint that records every webhook and answers as the test tells it.

    ``answer`` maps a payload (and how many times its tracking event has arrived, this time
    included) to the status to reply with.
    """

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.answer: Callable[[dict[str, Any], int], int] = lambda _payload, _seen: 200
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver._lock:
                    receiver.received.append(Received(self.path, body))
                    payload = json.loads(body)
                    event_id = _event_id(payload)
                    seen = sum(1 for r in receiver.received if _event_id(r.payload) == event_id)
                    status = receiver.answer(payload, seen)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                pass

        self._serve(Handler)
        self.url = f"http://127.0.0.1:{self.port}/v1/webhooks/shippo?token={WEBHOOK_TOKEN}"

    def about(self, tracking_number: str) -> list[Received]:
        """What arrived about one parcel, in arrival order."""
        with self._lock:
            return [
                r for r in self.received if r.payload["data"]["tracking_number"] == tracking_number
            ]

    def wait_for(self, tracking_number: str, count: int, within: float = 5.0) -> list[Received]:
        """Wait until ``count`` webhooks about the parcel arrived; fail the test otherwise."""
        deadline = time.monotonic() + within
        while len(found := self.about(tracking_number)) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(found)} of {count} webhooks about {tracking_number}")
            time.sleep(0.01)
        return found


def _event_id(payload: dict[str, Any]) -> str | None:
    status = (payload.get("data") or {}).get("tracking_status") or {}
    return cast(str | None, status.get("object_id"))
