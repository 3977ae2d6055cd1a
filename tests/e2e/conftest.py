from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from devstack.stack import DevStack
from providers.stripe_adapter import StripeGateway


@pytest.fixture
async def api(stack: DevStack) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=stack.api_url, timeout=60) as client:
        yield client


@pytest.fixture
async def stripe(stack: DevStack) -> AsyncIterator[StripeGateway]:
    gateway = StripeGateway.connect(stack.env["STRIPE_API_KEY"], stack.env["STRIPE_API_BASE"])
    try:
        yield gateway
    finally:
        await gateway.aclose()
