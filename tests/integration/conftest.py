"""Fixtures shared by the Stripe emulator and adapter tests. Each module starts its own
emulator (its `emulator_url` fixture); these build clients for it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import stripe

from providers.stripe_adapter import StripeGateway
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
