"""Fixtures shared by the Stripe and Shippo emulator and adapter tests. Each Stripe module
starts its own emulator (its `emulator_url` fixture); these build clients for it. The Shippo
emulator runs as its own process, once per session (`shippo_emulator`)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
import shippo
import stripe

from providers.shippo_adapter import ShippoGateway
from providers.stripe_adapter import StripeGateway
from tests.integration.shippo_helpers import API_KEY as SHIPPO_API_KEY
from tests.integration.shippo_helpers import WebhookReceiver
from tests.integration.shippo_helpers import control as shippo_control
from tests.integration.shippo_helpers import running_emulator as running_shippo_emulator
from tests.integration.shippo_helpers import sdk_client as shippo_sdk_client
from tests.integration.stripe_helpers import API_KEY, control, sdk_client


@pytest.fixture
async def gateway(emulator_url: str) -> AsyncIterator[StripeGateway]:
    gateway = StripeGateway.connect(API_KEY, emulator_url, timeout_seconds=5.0)
    yield gateway
    await gateway.aclose()


@pytest.fixture
async def client(emulator_url: str) -> AsyncIterator[stripe.StripeClient]:
    async with sdk_client(emulator_url) as client:
        yield client


@pytest.fixture
async def no_faults_after(emulator_url: str) -> AsyncIterator[None]:
    yield
    await control(emulator_url, "DELETE", "/_emulator/faults")


# --- Shippo: one emulator process for the session, its webhooks sent to one local receiver ---


@pytest.fixture(scope="session")
def shippo_receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as receiver:
        yield receiver


@pytest.fixture(scope="session")
def shippo_emulator(
    tmp_path_factory: pytest.TempPathFactory, shippo_receiver: WebhookReceiver
) -> Iterator[str]:
    """The base URL of ``python -m emulators.shippo``, started once per session."""
    data_dir = tmp_path_factory.mktemp("shippo-emulator")
    with running_shippo_emulator(data_dir, webhook_url=shippo_receiver.url) as url:
        yield url


@pytest.fixture
def shippo_webhooks(shippo_receiver: WebhookReceiver) -> Iterator[WebhookReceiver]:
    """The receiver, answering 200 again after the test whatever the test told it."""
    yield shippo_receiver
    shippo_receiver.answer = lambda _payload, _seen: 200


@pytest.fixture
def shippo_sdk(shippo_emulator: str) -> Iterator[shippo.Shippo]:
    client = shippo_sdk_client(shippo_emulator)
    yield client
    client.sdk_configuration.client.close()


@pytest.fixture
def shippo_gateway(shippo_emulator: str) -> Iterator[ShippoGateway]:
    gateway = ShippoGateway.connect(SHIPPO_API_KEY, shippo_emulator, timeout=2.0)
    yield gateway
    gateway.close()


@pytest.fixture
def shippo_faults_cleared(shippo_emulator: str) -> Iterator[None]:
    yield
    shippo_control(shippo_emulator, "DELETE", "/_emulator/faults")
