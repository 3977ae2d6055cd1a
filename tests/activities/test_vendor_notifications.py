"""Vendor notifications against real PostgreSQL and a real HTTP receiver on 127.0.0.1.

The receiver is loopback, which the outbound rules refuse: each test allows its exact
host:port (FULFILLMENT_WEBHOOK_ALLOWED_HOSTS's job) or shows that it is refused. Names are
resolved by a fake resolver, never by the system's."""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.exceptions import ApplicationError

from activities import notifications as notifications_module
from activities.notifications import NotificationActivities
from activities.webhook_sender import WebhookSender
from domain.outbound_urls import OutboundPolicy, Resolver, parse_allowed_hosts
from domain.signing import SIGNATURE_HEADER, InvalidSignature, new_secret, verify
from models.messages.notifications import NotificationOutcome, VendorNotification
from stores.db import execute_sql

NOW = 1_900_000_000


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """A vendor's endpoint: records every request and answers `status` (and `location`)."""

    server: ThreadingHTTPServer
    status: int = 204
    location: str | None = None
    delay: float = 0.0
    requests: list[Received] = field(default_factory=list)

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    @property
    def authority(self) -> str:
        return f"127.0.0.1:{self.port}"

    def url(self, path: str = "/hooks/fulfillment") -> str:
        return f"http://{self.authority}{path}"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state: Receiver

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            state.requests.append(Received(self.path, dict(self.headers.items()), body))
            time.sleep(state.delay)
            self.send_response(state.status)
            if state.location:
                self.send_header("Location", state.location)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:  # quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state = Receiver(server)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


DB_POOL_SIZE = 2  # connections of the `sessions` fixture (tests/conftest.py)


class FakeResolver:
    """Answers names from a table and records what it was asked; unknown names do not exist."""

    def __init__(self, answers: dict[str, list[str]] | None = None) -> None:
        self.answers = answers or {}
        self.asked: list[tuple[str, int]] = []

    async def __call__(self, host: str, port: int) -> Sequence[str]:
        self.asked.append((host, port))
        if host not in self.answers:
            raise socket.gaierror(socket.EAI_NONAME, f"{host} does not exist")
        return self.answers[host]


@asynccontextmanager
async def delivering(
    sessions: async_sessionmaker[AsyncSession],
    *allowed: str,
    resolve: Resolver | None = None,
) -> AsyncIterator[NotificationActivities]:
    """The activities as the worker builds them (dev: http allowed), with these host:port
    pairs allowed."""
    policy = OutboundPolicy(allow_http=True, allowed_hosts=parse_allowed_hosts(allowed))
    sender = WebhookSender(policy, resolve or FakeResolver())
    try:
        yield NotificationActivities(sessions, sender, clock=lambda: NOW + 0.75)
    finally:
        await sender.aclose()


@pytest.fixture
async def notifications(
    sessions: async_sessionmaker[AsyncSession], receiver: Receiver
) -> AsyncIterator[NotificationActivities]:
    async with delivering(sessions, receiver.authority) as activities:
        yield activities


async def vendor(
    sessions: async_sessionmaker[AsyncSession],
    webhook_url: str | None,
    webhook_secret: str | None = None,
) -> str:
    vendor_id = f"ven_{uuid.uuid4().hex[:8]}"
    async with sessions() as session, session.begin():
        await execute_sql(
            session,
            text(
                "INSERT INTO vendor (id, name, email, commission_bps, ship_sla_seconds,"
                " webhook_url, webhook_secret, created_at)"
                " VALUES (:id, 'V', 'v@example.com', 1000, 3600, :url, :secret, now())"
            ),
            {"id": vendor_id, "url": webhook_url, "secret": webhook_secret},
        )
    return vendor_id


def created(vendor_id: str) -> VendorNotification:
    vendor_order_id = f"vo_{uuid.uuid4().hex[:12]}"
    return VendorNotification(
        event_id=f"{vendor_order_id}.created",
        vendor_id=vendor_id,
        type="vendor_order.created",
        created_at=datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC),
        vendor_order_id=vendor_order_id,
        data={"lines": [{"sku": "BRAKE-01", "quantity": 3}], "ship_by": "2030-01-05T03:04:05Z"},
    )


async def test_the_vendor_receives_the_event_as_json_signed_with_its_secret(
    sessions: async_sessionmaker[AsyncSession],
    notifications: NotificationActivities,
    receiver: Receiver,
) -> None:
    secret = new_secret()
    notification = created(await vendor(sessions, receiver.url(), secret))

    outcome = await notifications.deliver(notification)

    assert outcome == NotificationOutcome(delivered=True, status_code=204)
    (request,) = receiver.requests
    assert request.path == "/hooks/fulfillment"
    verify(secret, request.headers[SIGNATURE_HEADER], request.body, now=NOW)
    assert request.headers[SIGNATURE_HEADER].startswith(f"t={NOW},v1=")
    assert json.loads(request.body) == {
        "id": notification.event_id,
        "type": "vendor_order.created",
        "created_at": "2030-01-02T03:04:05+00:00",
        "vendor_id": notification.vendor_id,
        "vendor_order_id": notification.vendor_order_id,
        "data": {
            "lines": [{"quantity": 3, "sku": "BRAKE-01"}],
            "ship_by": "2030-01-05T03:04:05Z",
        },
    }
    # Compact, sorted keys: the signed bytes do not depend on dict order.
    assert request.body == json.dumps(
        json.loads(request.body), sort_keys=True, separators=(",", ":")
    ).encode("utf-8")
    assert {
        name: request.headers[name]
        for name in ("Content-Type", "Fulfillment-Event-Id", "Fulfillment-Event-Type", "User-Agent")
    } == {
        "Content-Type": "application/json",
        "Fulfillment-Event-Id": notification.event_id,
        "Fulfillment-Event-Type": "vendor_order.created",
        "User-Agent": "fulfillment-webhooks/1",
    }


async def test_the_signature_does_not_verify_with_another_vendors_secret(
    sessions: async_sessionmaker[AsyncSession],
    notifications: NotificationActivities,
    receiver: Receiver,
) -> None:
    notification = created(await vendor(sessions, receiver.url(), new_secret()))

    await notifications.deliver(notification)

    (request,) = receiver.requests
    with pytest.raises(InvalidSignature):
        verify(new_secret(), request.headers[SIGNATURE_HEADER], request.body, now=NOW)


async def test_a_vendor_without_a_webhook_url_is_sent_nothing(
    sessions: async_sessionmaker[AsyncSession],
    notifications: NotificationActivities,
    receiver: Receiver,
) -> None:
    notification = created(await vendor(sessions, None))

    outcome = await notifications.deliver(notification)

    assert outcome == NotificationOutcome(delivered=False, skipped="no_webhook_url")
    assert receiver.requests == []


async def test_a_webhook_without_a_secret_is_never_sent_unsigned(
    sessions: async_sessionmaker[AsyncSession],
    notifications: NotificationActivities,
    receiver: Receiver,
) -> None:
    notification = created(await vendor(sessions, receiver.url(), None))

    outcome = await notifications.deliver(notification)

    assert outcome == NotificationOutcome(delivered=False, skipped="no_webhook_secret")
    assert receiver.requests == []


async def test_an_unknown_vendor_is_sent_nothing(
    notifications: NotificationActivities, receiver: Receiver
) -> None:
    outcome = await notifications.deliver(created("ven_nobody"))

    assert outcome == NotificationOutcome(delivered=False, skipped="unknown_vendor")
    assert receiver.requests == []


async def test_a_server_error_is_raised_for_temporal_to_retry(
    sessions: async_sessionmaker[AsyncSession],
    notifications: NotificationActivities,
    receiver: Receiver,
) -> None:
    receiver.status = 500
    notification = created(await vendor(sessions, receiver.url(), new_secret()))

    with pytest.raises(ApplicationError) as failed:
        await notifications.deliver(notification)

    assert (failed.value.type, failed.value.non_retryable) == ("vendor_webhook_failed", False)
    assert "500" in failed.value.message
    assert len(receiver.requests) == 1


async def test_an_endpoint_the_vendor_removed_410_gone_stops_the_retries(
    sessions: async_sessionmaker[AsyncSession],
    notifications: NotificationActivities,
    receiver: Receiver,
) -> None:
    receiver.status = 410
    notification = created(await vendor(sessions, receiver.url(), new_secret()))

    outcome = await notifications.deliver(notification)

    assert outcome == NotificationOutcome(delivered=False, status_code=410)
    assert len(receiver.requests) == 1


async def test_a_redirect_is_not_followed_and_is_retried(
    sessions: async_sessionmaker[AsyncSession],
    notifications: NotificationActivities,
    receiver: Receiver,
) -> None:
    receiver.status, receiver.location = 307, receiver.url("/elsewhere")
    notification = created(await vendor(sessions, receiver.url(), new_secret()))

    with pytest.raises(ApplicationError) as failed:
        await notifications.deliver(notification)

    assert (failed.value.type, failed.value.non_retryable) == ("vendor_webhook_failed", False)
    assert [request.path for request in receiver.requests] == ["/hooks/fulfillment"]


async def test_an_unreachable_endpoint_is_raised_for_temporal_to_retry(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    with socket.socket() as probe:  # a free port that nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    notification = created(await vendor(sessions, f"http://127.0.0.1:{port}/", new_secret()))

    async with delivering(sessions, f"127.0.0.1:{port}") as notifications:
        with pytest.raises(ApplicationError) as failed:
            await notifications.deliver(notification)

    assert (failed.value.type, failed.value.non_retryable) == ("vendor_webhook_failed", False)


async def test_an_endpoint_slower_than_the_timeout_is_raised_for_temporal_to_retry(
    sessions: async_sessionmaker[AsyncSession],
    notifications: NotificationActivities,
    receiver: Receiver,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(notifications_module, "REQUEST_TIMEOUT_SECONDS", 0.2)
    receiver.delay = 2.0
    notification = created(await vendor(sessions, receiver.url(), new_secret()))

    with pytest.raises(ApplicationError) as failed:
        await notifications.deliver(notification)

    assert (failed.value.type, failed.value.non_retryable) == ("vendor_webhook_failed", False)
    assert "ReadTimeout" in failed.value.message


async def test_a_url_no_retry_can_fix_is_refused_without_retrying(
    sessions: async_sessionmaker[AsyncSession],
    notifications: NotificationActivities,
    receiver: Receiver,
) -> None:
    notification = created(await vendor(sessions, "ftp://vendor.example/hooks", new_secret()))

    with pytest.raises(ApplicationError) as failed:
        await notifications.deliver(notification)

    assert (failed.value.type, failed.value.non_retryable) == (
        "vendor_webhook_url_forbidden",
        True,
    )
    assert failed.value.details == ({"rule": "scheme"},)
    assert receiver.requests == []


async def test_a_loopback_receiver_that_is_not_on_the_allowed_list_is_never_contacted(
    sessions: async_sessionmaker[AsyncSession], receiver: Receiver
) -> None:
    notification = created(await vendor(sessions, receiver.url(), new_secret()))

    async with delivering(sessions) as notifications:  # nothing allowed
        with pytest.raises(ApplicationError) as failed:
            await notifications.deliver(notification)

    assert (failed.value.type, failed.value.non_retryable) == (
        "vendor_webhook_url_forbidden",
        True,
    )
    assert failed.value.details == ({"rule": "loopback"},)
    assert receiver.requests == []


@pytest.mark.parametrize(
    ("spelling", "rule"),
    [
        ("http://localhost:{port}/hooks", "loopback"),
        ("http://[::ffff:127.0.0.1]:{port}/hooks", "loopback"),
        ("http://127.0.0.2:{port}/hooks", "loopback"),
        ("http://2130706433:{port}/hooks", "host_form"),
        ("http://0x7f.1:{port}/hooks", "host_form"),
        ("http://0177.0.0.1:{port}/hooks", "host_form"),
        ("http://127.1:{port}/hooks", "host_form"),
        ("http://user:pass@127.0.0.1:{port}/hooks", "userinfo"),
        ("http://0.0.0.0:{port}/hooks", "unspecified"),
    ],
)
async def test_other_spellings_of_the_allowed_receiver_are_refused_and_never_reach_it(
    sessions: async_sessionmaker[AsyncSession],
    notifications: NotificationActivities,
    receiver: Receiver,
    spelling: str,
    rule: str,
) -> None:
    # Stored directly: URLs set before the rules existed are judged again at delivery.
    url = spelling.format(port=receiver.port)
    notification = created(await vendor(sessions, url, new_secret()))

    with pytest.raises(ApplicationError) as failed:
        await notifications.deliver(notification)

    assert (failed.value.type, failed.value.non_retryable) == (
        "vendor_webhook_url_forbidden",
        True,
    )
    assert failed.value.details == ({"rule": rule},)
    assert receiver.requests == []


@pytest.mark.parametrize(
    "answers",
    [["127.0.0.1"], ["::1"], ["8.8.8.8", "127.0.0.1"], ["169.254.169.254"]],
)
async def test_a_name_that_resolves_inside_the_network_at_delivery_is_refused_at_connect_time(
    sessions: async_sessionmaker[AsyncSession], receiver: Receiver, answers: list[str]
) -> None:
    # It may have resolved to a public address when it was set: DNS rebinding.
    resolve = FakeResolver({"hooks.vendor.test": answers})
    url = f"http://hooks.vendor.test:{receiver.port}/hooks"
    notification = created(await vendor(sessions, url, new_secret()))

    async with delivering(sessions, resolve=resolve) as notifications:
        with pytest.raises(ApplicationError) as failed:
            await notifications.deliver(notification)

    assert (failed.value.type, failed.value.non_retryable) == (
        "vendor_webhook_url_forbidden",
        True,
    )
    assert "hooks.vendor.test resolves to" in failed.value.message
    # Judged before any connection: not even the public address among them was contacted.
    assert resolve.asked == [("hooks.vendor.test", receiver.port)]
    assert receiver.requests == []


async def test_the_connection_goes_to_the_address_that_was_judged_with_the_vendors_host_name(
    sessions: async_sessionmaker[AsyncSession], receiver: Receiver
) -> None:
    # The allowed name resolves (once, through our resolver) to the receiver: the request
    # reaches that very address, and still names the vendor's host.
    resolve = FakeResolver({"receiver.test": ["127.0.0.1"]})
    secret = new_secret()
    url = f"http://receiver.test:{receiver.port}/hooks"
    notification = created(await vendor(sessions, url, secret))

    async with delivering(sessions, f"receiver.test:{receiver.port}", resolve=resolve) as n:
        outcome = await n.deliver(notification)

    assert outcome == NotificationOutcome(delivered=True, status_code=204)
    (request,) = receiver.requests
    assert request.headers["Host"] == f"receiver.test:{receiver.port}"
    verify(secret, request.headers[SIGNATURE_HEADER], request.body, now=NOW)
    assert resolve.asked == [("receiver.test", receiver.port)]


async def test_a_name_that_does_not_resolve_now_is_raised_for_temporal_to_retry(
    sessions: async_sessionmaker[AsyncSession], receiver: Receiver
) -> None:
    notification = created(
        await vendor(sessions, f"http://gone.vendor.test:{receiver.port}/", new_secret())
    )

    async with delivering(sessions, resolve=FakeResolver()) as notifications:
        with pytest.raises(ApplicationError) as failed:
            await notifications.deliver(notification)

    assert (failed.value.type, failed.value.non_retryable) == ("vendor_webhook_failed", False)
    assert "gone.vendor.test" in failed.value.message
    assert receiver.requests == []
