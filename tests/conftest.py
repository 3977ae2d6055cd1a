"""Session-wide servers. The dev stack (real PostgreSQL, Redis, Temporal, Stripe emulator,
API and worker processes) starts once, on free ports and a temporary folder, and is stopped
at the end whatever happens."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from devstack import free_port
from devstack.stack import DevStack, Ports
from tests.loopback_guard import loopback_only

# The e2e stack uses a short return window so a whole lifecycle fits in a test.
E2E_RETURN_WINDOW_SECONDS = 3


CONFIGURED_SERVICES = (
    "DATABASE_URL",
    "REDIS_URL",
    "TEMPORAL_ADDRESS",
    "STRIPE_API_BASE",
    "SHIPPO_API_BASE",
)


@pytest.fixture(scope="session", autouse=True)
def _own_servers_only() -> None:
    """Tests start their own servers: never touch a developer's configured services."""
    for name in (*CONFIGURED_SERVICES, "STRIPE_API_KEY", "SHIPPO_API_KEY"):
        os.environ.pop(name, None)


@pytest.fixture(scope="session", autouse=True)
def _loopback_only() -> Iterator[None]:
    """Nothing a test does may connect off this machine (tests/loopback_guard.py)."""
    with loopback_only():
        yield


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevStack]:
    ports = Ports.free()
    dev = DevStack(
        tmp_path_factory.mktemp("stack"),
        ports,
        overrides={
            "FULFILLMENT_ENV": "test",
            "FULFILLMENT_RETURN_WINDOW": str(E2E_RETURN_WINDOW_SECONDS),
            "FULFILLMENT_TASK_QUEUE": "fulfillment-e2e",
            # Faults are injected by some tests: calls that hang give up fast and retry.
            "STRIPE_TIMEOUT_SECONDS": "2",
            "FULFILLMENT_PAYOUT_RETRY_AFTER": "1",
            # A vendor with a one-second ship SLA is cancelled two seconds after breaching it.
            "FULFILLMENT_AUTO_CANCEL_AFTER": "2",
            # The one local receiver the stack's vendor webhooks may reach: a test's receiver
            # listens on this port (tests/e2e/webhook_inbox.py).
            "FULFILLMENT_WEBHOOK_ALLOWED_HOSTS": f"127.0.0.1:{free_port()}",
        },
    )
    dev.start(log=lambda _: None)
    try:
        yield dev
    finally:
        dev.stop(log=lambda _: None)
