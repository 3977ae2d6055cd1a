"""Session-wide servers, and the fixtures several test folders share. The dev stack (real
PostgreSQL, Redis, Temporal, Stripe emulator, API and worker processes) starts once, on free
ports and a temporary folder, and is stopped at the end whatever happens. Below it: sessions
on its database and the order store on it (tests/activities, tests/integration), clients of a
module's own Stripe emulator (each such module gives its `emulator_url`), and one Shippo
emulator process per session (tests/emulators, tests/integration, tests/activities)."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import AsyncIterator, Iterator

import pytest
import shippo
import stripe
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from activities.events import RedisEventPublisher
from activities.orders import OrderStoreActivities
from devstack import free_port
from devstack.stack import DevStack, Ports
from providers.shippo_adapter import ShippoGateway
from providers.stripe_adapter import StripeGateway
from stores.db import connect_redis, make_engine, make_sessionmaker
from tests.loopback_guard import loopback_only
from tests.shippo_helpers import API_KEY as SHIPPO_API_KEY
from tests.shippo_helpers import WebhookReceiver
from tests.shippo_helpers import control as shippo_control
from tests.shippo_helpers import running_emulator as running_shippo_emulator
from tests.shippo_helpers import sdk_client as shippo_sdk_client
from tests.stripe_helpers import API_KEY, control, sdk_client

# The e2e stack uses a short return window so a whole lifecycle fits in a test.
E2E_RETURN_WINDOW_SECONDS = 3
E2E_RATE_LIMIT = 1_000_000
RATE_ROLES = ("PLATFORM", "OPS", "VENDOR", "ANONYMOUS")
E2E_FEED_MAX_BYTES = 6 * 1024 * 1024


CONFIGURED_SERVICES = (
    "DATABASE_URL",
    "REDIS_URL",
    "TEMPORAL_ADDRESS",
    "STRIPE_API_BASE",
    "SHIPPO_API_BASE",
)


# The files that take longest (`pytest --durations=0` on 2 cores, 2026-12-03), run first. Two
# workers take files in turn (`--dist loadfile`); xdist's default order puts the files with the
# most tests first, which left the simulation (one test, 100 s) to start when the other
# worker was nearly done. Longest first, the two finish together (Makefile: the suite runs
# with --no-loadscope-reorder so this order stands).
LONGEST_FIRST = (
    "tests/simulation/test_simulation.py",
    "tests/e2e/test_fuzz_inputs.py",
    "tests/e2e/test_money.py",
    "tests/e2e/test_money_under_faults.py",
    "tests/e2e/test_stock_feed_crash.py",
    "tests/workflows/test_money_and_stock_hardening.py",
    "tests/e2e/test_retries_and_races.py",
    "tests/e2e/test_openapi_schemathesis.py",
    "tests/e2e/test_operator_cli.py",
    "tests/e2e/test_restart.py",
    "tests/e2e/test_reaper.py",
    "tests/e2e/test_platform_events.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        path = item.nodeid.split("::", 1)[0]
        return LONGEST_FIRST.index(path) if path in LONGEST_FIRST else len(LONGEST_FIRST)

    items.sort(key=rank)  # stable: each file's own order is kept


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
    # With the Web UI: the README's picture is taken from it (test_temporal_ui_screenshot.py).
    ports = dataclasses.replace(Ports.free(), temporal_ui=free_port())
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
            # Rate limits no test meets by accident; tests/e2e/test_rate_limits.py builds an
            # app of its own with low ones.
            **{f"FULFILLMENT_RATE_LIMIT_{role}": str(E2E_RATE_LIMIT) for role in RATE_ROLES},
            # Platform events (tests/e2e/test_platform_events.py): retries in seconds, not
            # days; an endpoint failing five times over a second is disabled.
            "FULFILLMENT_PLATFORM_EVENTS_POLL_INTERVAL": "0.2",
            "FULFILLMENT_PLATFORM_EVENTS_COMMIT_LAG": "2",
            "FULFILLMENT_PLATFORM_WEBHOOK_FIRST_RETRY": "0.5",
            "FULFILLMENT_PLATFORM_WEBHOOK_LONGEST_RETRY": "2",
            "FULFILLMENT_PLATFORM_WEBHOOK_GIVE_UP_AFTER": "120",
            "FULFILLMENT_PLATFORM_WEBHOOK_DISABLE_FAILURES": "5",
            "FULFILLMENT_PLATFORM_WEBHOOK_DISABLE_AFTER": "1",
            "FULFILLMENT_PLATFORM_WEBHOOK_TIMEOUT_SECONDS": "5",
            # A stock feed over this is 413: low enough for a test to send one over it.
            "FULFILLMENT_FEED_MAX_BYTES": str(E2E_FEED_MAX_BYTES),
            # A feed kept whose start was lost is started a second later (feed sweeper).
            "FULFILLMENT_FEED_START_GRACE": "1",
        },
    )
    dev.start(log=lambda _: None)
    try:
        yield dev
    finally:
        dev.stop(log=lambda _: None)


# --- The stack's database, and the order store on it ---


@pytest.fixture
async def sessions(
    stack: DevStack, request: pytest.FixtureRequest
) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Sessions on the stack's database: five connections, or a module's own `DB_POOL_SIZE`."""
    pool_size = getattr(request.module, "DB_POOL_SIZE", 5)
    engine = make_engine(stack.env["DATABASE_URL"], pool_size=pool_size)
    try:
        yield make_sessionmaker(engine)
    finally:
        await engine.dispose()


@pytest.fixture
async def order_store(
    stack: DevStack, sessions: async_sessionmaker[AsyncSession]
) -> AsyncIterator[OrderStoreActivities]:
    redis = connect_redis(stack.env["REDIS_URL"])
    try:
        yield OrderStoreActivities(sessions, RedisEventPublisher(redis))
    finally:
        await redis.aclose()


# --- Stripe: clients of the module's own emulator (its `emulator_url` fixture) ---


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


@pytest.fixture(autouse=True)
def _this_process_is_never_traced() -> Iterator[None]:
    """An app built in the test process with traces on (models/tracing.py) instruments its
    HTTP clients for every later test: their own traceparent headers would be replaced.
    In-process apps set FULFILLMENT_TRACES=off; this says which test forgot."""
    yield
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

    assert not HTTPXClientInstrumentor().is_instrumented_by_opentelemetry, (
        "this test instrumented the test process's HTTP clients: build its app with "
        "FULFILLMENT_TRACES=off"
    )
