"""The storefront rolls its endpoint's signing secret without downtime (docs/platform-events.md,
"Rotating the signing secret"): every delivery carries a signature with the new secret and,
until the old one's expiry, one with the old; a receiver that knows either verifies. The
secret is answered once; bad requests change nothing; the rotation is kept in PostgreSQL.

Deliveries are replayed by hand (`…/retry`) to see how the worker signs now, without placing
an order each time. Receivers listen on the one loopback host:port the stack allows.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
import pytest

from devstack.stack import DevStack
from domain.secret_rotation import LONGEST_EXPIRY_SECONDS
from domain.signing import InvalidSignature, verify
from tests.e2e.client import OPS, PLATFORM, order_body, place, stock_product
from tests.e2e.client import onboard as onboard_vendor
from tests.e2e.money import eventually
from tests.e2e.platform_receiver import PlatformReceiver, Received, running_receiver
from tests.e2e.webhook_inbox import allowed_webhook_port

pytestmark = pytest.mark.e2e


@pytest.fixture
def receiver(stack: DevStack) -> Iterator[PlatformReceiver]:
    with running_receiver(allowed_webhook_port(stack)) as found:
        yield found


@dataclass
class Heard:
    """An endpoint registered at its own path, and one order's delivery to it."""

    api: httpx.AsyncClient
    receiver: PlatformReceiver
    path: str
    endpoint: dict[str, Any]
    order_id: str = ""
    delivery_id: int = 0

    @property
    def url(self) -> str:
        return f"/v1/webhook-endpoints/{self.endpoint['id']}"

    async def order_confirmed(self) -> Received:
        """Place an order and wait for its `order.confirmed` to be delivered and recorded."""
        seller = await onboard_vendor(self.api, "Rotation")
        sku = await stock_product(self.api, seller, price_cents=1000, on_hand=5)
        placed = await place(self.api, order_body([(sku, 1)]))
        assert placed.status_code == 201, placed.text
        self.order_id = placed.json()["id"]

        async def recorded() -> list[dict[str, Any]] | None:
            page = await self.api.get(f"{self.url}/deliveries", headers=PLATFORM)
            ours = [d for d in page.json()["data"] if d["order_id"] == self.order_id]
            return ours if ours and ours[0]["status"] == "succeeded" else None

        (delivery,) = await eventually(recorded, within=30)
        self.delivery_id = delivery["id"]
        return self.receiver.requests(self.path, self.order_id)[-1]

    async def replayed(self) -> Received:
        """The delivery sent again now, as the worker signs it at this moment."""
        before = len(self.receiver.requests(self.path, self.order_id))
        retry = await self.api.post(
            f"{self.url}/deliveries/{self.delivery_id}/retry", headers=PLATFORM
        )
        assert retry.status_code == 202, retry.text

        async def arrived() -> Received | None:
            got = self.receiver.requests(self.path, self.order_id)
            return got[-1] if len(got) > before else None

        found: Received = await eventually(arrived, within=20)
        return found

    async def rotate(
        self, body: dict[str, Any] | None = None, key: str | None = None
    ) -> httpx.Response:
        headers = PLATFORM if key is None else {**PLATFORM, "Idempotency-Key": key}
        return await self.api.post(f"{self.url}/rotate-secret", json=body, headers=headers)

    async def shown(self) -> dict[str, Any]:
        answer = await self.api.get(self.url, headers=PLATFORM)
        assert answer.status_code == 200, answer.text
        found: dict[str, Any] = answer.json()
        return found


@pytest.fixture
async def heard(api: httpx.AsyncClient, receiver: PlatformReceiver) -> AsyncIterator[Heard]:
    path = receiver.new_path()
    registered = await api.post(
        "/v1/webhook-endpoints",
        json={"url": receiver.url(path), "event_types": ["order.confirmed"]},
        headers=PLATFORM,
    )
    assert registered.status_code == 201, registered.text
    yield Heard(api, receiver, path, registered.json())
    removed = await api.delete(f"/v1/webhook-endpoints/{registered.json()['id']}", headers=PLATFORM)
    assert removed.status_code == 204, removed.text


def verifies(secret: str, request: Received) -> bool:
    try:
        verify(secret, request.headers["fulfillment-signature"], request.body, int(time.time()))
    except InvalidSignature as refused:
        assert refused.extra["reason"] == "mismatch", refused.extra
        return False
    return True


def signatures(request: Received) -> int:
    return request.headers["fulfillment-signature"].count("v1=")


def signed_at(request: Received) -> int:
    stamp = request.headers["fulfillment-signature"].split(",")[0]
    return int(stamp.removeprefix("t="))


async def test_a_receiver_that_knows_only_the_old_secret_verifies_until_the_expiry_and_not_after(
    heard: Heard,
) -> None:
    old = heard.endpoint["secret"]
    first = await heard.order_confirmed()
    assert verifies(old, first) and signatures(first) == 1

    rotated = await heard.rotate({"expire_current_after_seconds": 8})
    assert rotated.status_code == 200, rotated.text
    new = rotated.json()["secret"]
    assert new.startswith("whsec_") and new != old
    expires = datetime.fromisoformat(rotated.json()["previous_secret_expires_at"])
    assert 6 <= expires.timestamp() - time.time() <= 9

    during = await heard.replayed()
    assert signed_at(during) < expires.timestamp()
    assert signatures(during) == 2
    assert verifies(old, during) and verifies(new, during)
    assert (await heard.shown())["previous_secret_expires_at"] == rotated.json()[
        "previous_secret_expires_at"
    ]

    await asyncio.sleep(max(0.0, expires.timestamp() - time.time()) + 0.5)
    after = await heard.replayed()
    assert signed_at(after) >= int(expires.timestamp())  # t= is whole seconds
    assert signatures(after) == 1
    assert not verifies(old, after)
    assert verifies(new, after)
    assert (await heard.shown())["previous_secret_expires_at"] is None


async def test_a_receiver_that_knows_only_the_new_secret_verifies_the_next_event_at_once(
    heard: Heard,
) -> None:
    rotated = await heard.rotate()  # no body: the old secret signs for 24 h
    assert rotated.status_code == 200, rotated.text
    new = rotated.json()["secret"]
    expires = datetime.fromisoformat(rotated.json()["previous_secret_expires_at"])
    assert abs(expires.timestamp() - time.time() - 24 * 3600) < 60

    # A new event, fanned out after the rotation: signed with both, so either verifies.
    first = await heard.order_confirmed()
    assert verifies(new, first)
    assert verifies(heard.endpoint["secret"], first)
    # The secret is answered once: never by a read.
    shown = await heard.shown()
    listed = (await heard.api.get("/v1/webhook-endpoints?limit=200", headers=PLATFORM)).json()
    assert "secret" not in shown and "previous_secret" not in shown
    assert all("secret" not in e and "previous_secret" not in e for e in listed["data"])


async def test_an_expiry_of_zero_drops_the_old_secret_at_once(heard: Heard) -> None:
    await heard.order_confirmed()

    rotated = await heard.rotate({"expire_current_after_seconds": 0})
    assert rotated.status_code == 200, rotated.text
    assert rotated.json()["previous_secret_expires_at"] is None

    again = await heard.replayed()
    assert signatures(again) == 1
    assert not verifies(heard.endpoint["secret"], again)
    assert verifies(rotated.json()["secret"], again)
    # Nothing live to wait for: it can be rotated again straight away.
    assert (await heard.rotate({"expire_current_after_seconds": 60})).status_code == 200


async def test_rotating_again_while_the_old_secret_is_live_is_refused_and_changes_nothing(
    heard: Heard,
) -> None:
    await heard.order_confirmed()
    key = uuid.uuid4().hex
    rotated = await heard.rotate({"expire_current_after_seconds": 3600}, key=key)
    assert rotated.status_code == 200, rotated.text
    before = await heard.shown()
    # The same request again (an answer lost on the way) is answered the same, secret included:
    # that is how a lost secret is recovered, not by a second rotation.
    repeated = await heard.rotate({"expire_current_after_seconds": 3600}, key=key)
    assert (repeated.status_code, repeated.json()) == (200, rotated.json())

    refused = await heard.rotate({"expire_current_after_seconds": 0})

    assert refused.status_code == 409, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    problem = refused.json()
    assert problem["code"] == "secret_rotation_in_progress"
    assert problem["previous_secret_expires_at"] == rotated.json()["previous_secret_expires_at"]
    assert await heard.shown() == before
    again = await heard.replayed()
    assert signatures(again) == 2
    assert verifies(heard.endpoint["secret"], again)
    assert verifies(rotated.json()["secret"], again)


BAD_BODIES: list[Any] = [
    {"expire_current_after_seconds": -1},
    {"expire_current_after_seconds": LONGEST_EXPIRY_SECONDS + 1},
    {"expire_current_after_seconds": "3600"},
    {"expire_current_after_seconds": 1.5},
    {"expire_current_after_seconds": True},
    {"expire_current_after_seconds": None},
    {"expire_current_after_seconds": 60, "expire_previous": True},
    [60],
]


async def test_a_bad_rotation_is_a_problem_and_changes_nothing(
    heard: Heard, api: httpx.AsyncClient
) -> None:
    await heard.order_confirmed()
    before = await heard.shown()
    seller = await onboard_vendor(api, "NotThePlatform")
    refusals: list[tuple[str, Any, dict[str, str], int]] = [
        *((heard.url, body, PLATFORM, 422) for body in BAD_BODIES),
        ("/v1/webhook-endpoints/we_missing", {}, PLATFORM, 404),
        (heard.url, {}, OPS, 403),  # operators never see a secret
        (heard.url, {}, seller.auth, 403),
        (heard.url, {}, {}, 401),
    ]
    for url, body, headers, status in refusals:
        answer = await api.post(f"{url}/rotate-secret", json=body, headers=headers)
        assert answer.status_code == status, (body, headers, answer.text)
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert "secret" not in answer.json()

    assert await heard.shown() == before
    again = await heard.replayed()
    assert signatures(again) == 1
    assert verifies(heard.endpoint["secret"], again)


async def test_a_rotation_survives_an_api_restart(heard: Heard, stack: DevStack) -> None:
    await heard.order_confirmed()
    rotated = await heard.rotate({"expire_current_after_seconds": 3600})
    assert rotated.status_code == 200, rotated.text

    await asyncio.to_thread(stack.restart_api)

    shown = await heard.shown()
    assert shown["previous_secret_expires_at"] == rotated.json()["previous_secret_expires_at"]
    again = await heard.replayed()
    assert signatures(again) == 2
    assert verifies(heard.endpoint["secret"], again)
    assert verifies(rotated.json()["secret"], again)
    refused = await heard.rotate()
    assert (refused.status_code, refused.json()["code"]) == (409, "secret_rotation_in_progress")
