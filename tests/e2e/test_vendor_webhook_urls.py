"""A vendor's webhook URL never points inside the platform's network (issue 9, item 12).

Setting one that does is refused with 422 and changes nothing; the one local receiver the
stack allows (FULFILLMENT_WEBHOOK_ALLOWED_HOSTS) gets signed notifications. Only IP literals
and names refused without resolving are used here: nothing is looked up or contacted off
this machine.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from devstack.stack import DevStack
from domain.outbound_urls import MAX_URL_LENGTH
from domain.signing import verify
from stores.db import execute_sql, make_engine, make_sessionmaker
from tests.e2e.client import Seller, onboard, order_body, place, stock_product
from tests.e2e.webhook_inbox import Inbox, allowed_webhook_port, running_inbox

pytestmark = pytest.mark.e2e


@pytest.fixture
def inbox(stack: DevStack) -> Iterator[Inbox]:
    with running_inbox(allowed_webhook_port(stack)) as box:
        yield box


DB_POOL_SIZE = 1  # connections of the `sessions` fixture (tests/conftest.py)


async def stored_webhook(
    sessions: async_sessionmaker[AsyncSession], vendor_id: str
) -> tuple[str | None, str | None]:
    async with sessions() as session:
        row = (
            await execute_sql(
                session,
                text("SELECT webhook_url, webhook_secret FROM vendor WHERE id = :id"),
                {"id": vendor_id},
            )
        ).one()
    return row.webhook_url, row.webhook_secret


async def set_webhook(api: httpx.AsyncClient, seller: Seller, url: str) -> httpx.Response:
    return await api.put(f"/v1/vendors/{seller.id}/webhook", json={"url": url}, headers=seller.auth)


@pytest.mark.parametrize(
    ("url", "rule"),
    [
        ("http://127.0.0.1/hooks", "loopback"),
        ("http://[::1]/hooks", "loopback"),
        ("http://localhost:8080/hooks", "loopback"),
        ("http://[::ffff:127.0.0.1]/hooks", "loopback"),
        # Integer, hexadecimal and octal spellings of 127.0.0.1 (read as it, then refused).
        ("http://2130706433/hooks", "loopback"),
        ("http://0x7f.1/hooks", "loopback"),
        ("http://0177.0.0.1/hooks", "loopback"),
        ("http://user:pass@127.0.0.1/hooks", "userinfo"),
        ("http://10.0.0.1/hooks", "private"),
        ("http://172.16.0.1/hooks", "private"),
        ("http://192.168.1.1/hooks", "private"),
        ("http://100.64.0.1/hooks", "private"),
        ("http://[fc00::1]/hooks", "private"),
        ("http://169.254.1.1/hooks", "link_local"),
        ("http://[fe80::1]/hooks", "link_local"),
        ("http://169.254.169.254/latest/meta-data/", "metadata"),
        ("http://[fd00:ec2::254]/latest/meta-data/", "metadata"),
        ("http://metadata.google.internal/computeMetadata/v1/", "metadata"),
        ("http://224.0.0.1/hooks", "multicast"),
        ("http://0.0.0.0/hooks", "unspecified"),
        ("http://240.0.0.1/hooks", "reserved"),
        # One character longer than the column: was a 500 (issue 9, item 13).
        (f"https://8.8.8.8/{'a' * (MAX_URL_LENGTH - 15)}", "length"),
    ],
)
async def test_a_vendor_setting_a_webhook_url_inside_the_network_gets_422_and_nothing_changes(
    api: httpx.AsyncClient,
    stack: DevStack,
    sessions: async_sessionmaker[AsyncSession],
    url: str,
    rule: str,
) -> None:
    seller = await onboard(api, "Hooked")
    allowed = f"http://127.0.0.1:{allowed_webhook_port(stack)}/hooks"
    assert (await set_webhook(api, seller, allowed)).status_code == 200
    before = await stored_webhook(sessions, seller.id)

    answer = await set_webhook(api, seller, url)

    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    problem = answer.json()
    assert (problem["code"], problem["rule"]) == ("validation_error", rule)
    assert problem["detail"].startswith("webhook url refused: ")
    assert await stored_webhook(sessions, seller.id) == before == (allowed, before[1])
    shown = await api.get(f"/v1/vendors/{seller.id}", headers=seller.auth)
    assert shown.json()["webhook_url"] == allowed


async def test_a_url_as_long_as_the_column_is_stored_whole(
    api: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    seller = await onboard(api, "Long")
    # A public address (never contacted: this vendor gets no order).
    url = f"https://8.8.8.8/{'a' * (MAX_URL_LENGTH - 16)}"

    answer = await set_webhook(api, seller, url)

    assert len(url) == MAX_URL_LENGTH
    assert answer.status_code == 200, answer.text
    stored_url, stored_secret = await stored_webhook(sessions, seller.id)
    assert (stored_url, stored_secret) == (url, answer.json()["secret"])


async def test_outside_the_allowed_pair_the_same_loopback_host_is_refused(
    api: httpx.AsyncClient, stack: DevStack, sessions: async_sessionmaker[AsyncSession]
) -> None:
    seller = await onboard(api, "Nearly")
    port = allowed_webhook_port(stack)

    answer = await set_webhook(api, seller, f"http://127.0.0.1:{port + 1}/hooks")
    by_name = await set_webhook(api, seller, f"http://localhost:{port}/hooks")

    assert (answer.status_code, answer.json()["rule"]) == (422, "loopback")
    assert (by_name.status_code, by_name.json()["rule"]) == (422, "loopback")
    assert await stored_webhook(sessions, seller.id) == (None, None)


async def test_the_allowed_local_receiver_gets_the_vendors_notification_signed(
    api: httpx.AsyncClient, inbox: Inbox
) -> None:
    seller = await onboard(api, "Local")
    answer = await set_webhook(api, seller, inbox.url)
    assert answer.status_code == 200, answer.text
    secret = answer.json()["secret"]
    sku = await stock_product(api, seller, price_cents=1200, on_hand=3)

    placed = await place(api, order_body([(sku, 1)]))
    assert placed.status_code == 201, placed.text
    for _ in range(300):
        if inbox.received:
            break
        await asyncio.sleep(0.1)

    assert answer.json()["url"] == inbox.url
    headers, body = inbox.received[0]
    stamp = int(headers["fulfillment-signature"].split(",")[0].removeprefix("t="))
    verify(secret, headers["fulfillment-signature"], body, now=stamp)
    message = json.loads(body)
    assert (message["type"], message["vendor_id"]) == ("vendor_order.created", seller.id)
    assert message["vendor_order_id"] == placed.json()["vendor_orders"][0]["id"]


@pytest.mark.parametrize(
    "url", ["http://169.254.169.254/latest/meta-data", "http://10.0.0.1/hook", "http://[::1]/h"]
)
async def test_onboarding_a_vendor_with_a_webhook_url_inside_the_network_is_refused(
    api: httpx.AsyncClient, stack: DevStack, url: str
) -> None:
    from tests.e2e.client import OPS, unique

    email = f"{unique('sneaky').lower()}@example.com"
    answer = await api.post(
        "/v1/vendors",
        json={"name": "Sneaky", "email": email, "webhook_url": url},
        headers=OPS,
    )
    assert answer.status_code == 422, answer.text
    assert answer.json()["code"] == "validation_error" and answer.json()["rule"]
    engine = make_engine(stack.env["DATABASE_URL"], pool_size=1)
    try:
        async with make_sessionmaker(engine)() as session:
            found = await execute_sql(
                session, text("SELECT count(*) FROM vendor WHERE email = :e"), {"e": email}
            )
            assert found.scalar_one() == 0
    finally:
        await engine.dispose()
