"""The storefront hears of every order event at its own endpoint (issue 13, part 1): signed,
in order per order, retried with growing waits, disabled when it keeps failing, replayed by
hand; an endpoint inside the platform's network is refused when registered.

Receivers listen on the one loopback host:port the stack allows; nothing leaves this machine.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from itertools import pairwise
from typing import Any

import httpx
import pytest

from devstack.stack import DevStack
from domain.ids import order_id_for_idempotency_key
from domain.signing import verify
from tests.conftest import E2E_RETURN_WINDOW_SECONDS
from tests.e2e.client import OPS, PLATFORM, order_body, place, stock_product, wait_for_order
from tests.e2e.client import onboard as onboard_vendor
from tests.e2e.money import eventually, return_received, ship_and_deliver
from tests.e2e.pages import every_item
from tests.e2e.platform_receiver import PlatformReceiver, Received, running_receiver
from tests.e2e.webhook_inbox import allowed_webhook_port

pytestmark = pytest.mark.e2e


@pytest.fixture
def receiver(stack: DevStack) -> Iterator[PlatformReceiver]:
    with running_receiver(allowed_webhook_port(stack)) as found:
        yield found


class Endpoints:
    """Registers endpoints and removes them after the test, so no later test is sent to them."""

    def __init__(self, api: httpx.AsyncClient) -> None:
        self.api = api
        self.made: list[str] = []

    async def register(self, url: str, event_types: list[str]) -> dict[str, Any]:
        answer = await self.api.post(
            "/v1/webhook-endpoints",
            json={"url": url, "event_types": event_types, "description": "storefront"},
            headers=PLATFORM,
        )
        assert answer.status_code == 201, answer.text
        self.made.append(answer.json()["id"])
        return answer.json()  # type: ignore[no-any-return]


@pytest.fixture
async def endpoints(api: httpx.AsyncClient) -> AsyncIterator[Endpoints]:
    made = Endpoints(api)
    yield made
    for endpoint_id in made.made:
        removed = await api.delete(f"/v1/webhook-endpoints/{endpoint_id}", headers=PLATFORM)
        assert removed.status_code == 204, removed.text
        gone = await api.get(f"/v1/webhook-endpoints/{endpoint_id}/deliveries", headers=PLATFORM)
        assert gone.status_code == 404


async def settled(
    api: httpx.AsyncClient, endpoint_id: str, order_id: str, count: int
) -> list[dict[str, Any]]:
    """The order's deliveries to the endpoint once `count` of them are no longer pending: the
    receiver sees a request before the worker writes down its answer."""

    async def done() -> list[dict[str, Any]] | None:
        page = await api.get(
            f"/v1/webhook-endpoints/{endpoint_id}/deliveries",
            params={"limit": 100},
            headers=PLATFORM,
        )
        ours = [d for d in page.json()["data"] if d["order_id"] == order_id]
        finished = [d for d in ours if d["status"] != "pending"]
        return ours if len(finished) == count == len(ours) else None

    return await eventually(done, within=20)  # type: ignore[no-any-return]


def verified(request: Received, secret: str) -> dict[str, Any]:
    verify(secret, request.headers["fulfillment-signature"], request.body, int(time.time()))
    assert request.headers["fulfillment-event-id"] == request.event["id"]
    return request.event


async def test_the_storefront_hears_every_event_of_an_order_signed_and_in_order(
    api: httpx.AsyncClient, receiver: PlatformReceiver, endpoints: Endpoints
) -> None:
    path = receiver.new_path()
    endpoint = await endpoints.register(receiver.url(path), ["*"])
    assert endpoint["secret"].startswith("whsec_")
    assert endpoint["status"] == "enabled"
    seller = await onboard_vendor(api, "Events")
    sku = await stock_product(api, seller, price_cents=2000, on_hand=5)

    placed = await place(api, order_body([(sku, 2)]))
    assert placed.status_code == 201, placed.text
    order = placed.json()
    vendor_order_id = order["vendor_orders"][0]["id"]
    await ship_and_deliver(api, seller, vendor_order_id)
    returned = await return_received(api, seller, order["id"], vendor_order_id, sku)
    await wait_for_order(api, order["id"], "completed", within=E2E_RETURN_WINDOW_SECONDS + 30)

    expected = {
        "order.confirmed",
        "vendor_order.shipped",
        "order.in_fulfillment",
        "vendor_order.delivered",
        "return.requested",
        "refund.succeeded",
        "return.refunded",
        "payout.released",
        "vendor_order.completed",
        "order.completed",
    }

    async def all_arrived() -> list[Received] | None:
        got = receiver.requests(path, order["id"])
        return got if {r.event["type"] for r in got} >= expected else None

    arrived = await eventually(all_arrived, within=30)
    events = [verified(request, endpoint["secret"]) for request in arrived]
    types = [event["type"] for event in events]
    assert sorted(types) == sorted(expected)  # each once: every one answered 204 the first time
    # In order: the order's events arrive as they were recorded.
    ids = [int(event["id"].removeprefix("evt_")) for event in events]
    assert ids == sorted(ids)
    assert types[0] == "order.confirmed" and types[-1] == "order.completed"
    assert types.index("vendor_order.shipped") < types.index("vendor_order.delivered")
    assert types.index("return.requested") < types.index("return.refunded")
    by_type = {event["type"]: event for event in events}
    shipped = by_type["vendor_order.shipped"]["data"]
    assert shipped == {
        "order_id": order["id"],
        "vendor_order_id": vendor_order_id,
        "carrier": "ups",
        "tracking_number": "1Z",
        "tracking_url": "https://www.ups.com/track?tracknum=1Z",
    }
    refund = by_type["refund.succeeded"]["data"]
    assert refund["amount_cents"] == returned["refund_cents"] > 0
    assert refund["vendor_order_id"] == vendor_order_id
    assert by_type["payout.released"]["data"]["amount_cents"] > 0

    # Every delivery is visible, a page at a time, newest first.
    await settled(api, endpoint["id"], order["id"], len(expected))
    first = await api.get(
        f"/v1/webhook-endpoints/{endpoint['id']}/deliveries?limit=4&status=succeeded",
        headers=PLATFORM,
    )
    assert first.status_code == 200, first.text
    page = first.json()
    assert page["has_more"] is True and len(page["data"]) == 4
    rest = await api.get(
        f"/v1/webhook-endpoints/{endpoint['id']}/deliveries",
        params={"limit": 100, "starting_after": page["next_cursor"]},
        headers=PLATFORM,
    )
    seen = [d["id"] for d in page["data"]] + [d["id"] for d in rest.json()["data"]]
    assert seen == sorted(seen, reverse=True) and len(set(seen)) == len(seen)
    ours = [d for d in page["data"] + rest.json()["data"] if d["order_id"] == order["id"]]
    assert sorted(d["event_type"] for d in ours) == sorted(expected)
    assert {(d["status"], d["attempts"]) for d in ours} == {("succeeded", 1)}
    assert all(d["attempt_log"][0]["status_code"] == 204 for d in ours)


async def test_a_declined_order_and_a_cancelled_one_are_heard_of_with_the_refund(
    api: httpx.AsyncClient, receiver: PlatformReceiver, endpoints: Endpoints
) -> None:
    path = receiver.new_path()
    wanted = ["order.rejected", "order.cancelled", "vendor_order.cancelled", "refund.succeeded"]
    endpoint = await endpoints.register(receiver.url(path), wanted)
    seller = await onboard_vendor(api, "Cancels")
    sku = await stock_product(api, seller, price_cents=1200, on_hand=5)
    key = uuid.uuid4().hex
    declined = await place(api, order_body([(sku, 1)], "pm_card_visa_chargeDeclined"), key=key)
    assert declined.status_code == 402, declined.text
    rejected_id = order_id_for_idempotency_key("platform", key)
    order = (await place(api, order_body([(sku, 1)]))).json()
    cancelled = await api.post(
        f"/v1/orders/{order['id']}/cancel", json={"reason": "changed mind"}, headers=PLATFORM
    )
    assert cancelled.status_code == 200, cancelled.text

    async def heard() -> list[Received] | None:
        got = receiver.requests(path, order["id"])
        done = {"vendor_order.cancelled", "refund.succeeded", "order.cancelled"}
        return got if {r.event["type"] for r in got} >= done else None

    arrived = await eventually(heard, within=30)
    events = [verified(request, endpoint["secret"]) for request in arrived]
    # Only what it subscribed to: no order.confirmed, in the order it was recorded.
    assert sorted(e["type"] for e in events) == [
        "order.cancelled",
        "refund.succeeded",
        "vendor_order.cancelled",
    ]
    ids = [int(e["id"].removeprefix("evt_")) for e in events]
    assert ids == sorted(ids)
    by_type = {e["type"]: e["data"] for e in events}
    assert by_type["refund.succeeded"]["amount_cents"] == order["total_cents"]
    assert by_type["vendor_order.cancelled"]["refunded_cents"] == order["total_cents"]

    async def rejected() -> list[Received] | None:
        return receiver.requests(path, rejected_id) or None

    (refusal,) = await eventually(rejected, within=20)
    assert verified(refusal, endpoint["secret"])["type"] == "order.rejected"
    assert refusal.event["data"]["order_id"] == rejected_id


async def test_a_failing_endpoint_is_retried_with_growing_waits_until_it_answers(
    api: httpx.AsyncClient, receiver: PlatformReceiver, endpoints: Endpoints
) -> None:
    path = receiver.new_path()
    receiver.fail_first(path, 3)
    endpoint = await endpoints.register(receiver.url(path), ["order.confirmed"])
    seller = await onboard_vendor(api, "Retries")
    sku = await stock_product(api, seller, price_cents=1500, on_hand=3)
    order = (await place(api, order_body([(sku, 1)]))).json()

    async def answered() -> list[Received] | None:
        got = receiver.requests(path, order["id"])
        return got if got and got[-1].answered == 204 else None

    tries = await eventually(answered, within=30)
    assert [r.answered for r in tries] == [503, 503, 503, 204]
    # The same event each time (one id), signed each time.
    assert {verified(r, endpoint["secret"])["id"] for r in tries} == {tries[0].event["id"]}
    waits = [later.at - earlier.at for earlier, later in pairwise(tries)]
    assert waits[0] < waits[1] < waits[2]
    assert waits[0] >= 0.4  # the first wait (0.5 s in the test stack), not at once

    (delivery,) = await settled(api, endpoint["id"], order["id"], 1)
    assert (delivery["status"], delivery["attempts"]) == ("succeeded", 4)
    assert [a["status_code"] for a in delivery["attempt_log"]] == [503, 503, 503, 204]
    shown = (await api.get(f"/v1/webhook-endpoints/{endpoint['id']}", headers=PLATFORM)).json()
    assert (shown["status"], shown["consecutive_failures"]) == ("enabled", 0)


async def test_an_endpoint_that_keeps_failing_is_disabled_flagged_and_can_be_enabled_and_replayed(
    api: httpx.AsyncClient, receiver: PlatformReceiver, endpoints: Endpoints
) -> None:
    path = receiver.new_path()
    receiver.fail_always(path)
    endpoint = await endpoints.register(receiver.url(path), ["order.confirmed"])
    seller = await onboard_vendor(api, "Disabled")
    sku = await stock_product(api, seller, price_cents=1500, on_hand=3)
    order = (await place(api, order_body([(sku, 1)]))).json()
    url = f"/v1/webhook-endpoints/{endpoint['id']}"

    async def disabled() -> dict[str, Any] | None:
        shown = (await api.get(url, headers=PLATFORM)).json()
        return shown if shown["status"] == "disabled" else None

    shown = await eventually(disabled, within=30)
    assert shown["consecutive_failures"] >= 5
    assert "failed deliveries in a row" in shown["disabled_reason"]
    flagged = await every_item(api, "/v1/ops/webhook-endpoints", OPS)
    assert endpoint["id"] in [e["id"] for e in flagged]
    # Disabled: nothing more is tried, and the delivery waits.
    tried = len(receiver.requests(path, order["id"]))
    await asyncio.sleep(1.5)
    assert len(receiver.requests(path, order["id"])) == tried
    deliveries = (await api.get(f"{url}/deliveries?status=pending", headers=PLATFORM)).json()
    (delivery,) = [d for d in deliveries["data"] if d["order_id"] == order["id"]]
    refused = await api.post(f"{url}/deliveries/{delivery['id']}/retry", headers=PLATFORM)
    assert refused.status_code == 409
    assert refused.json()["code"] == "invalid_state"

    # The storefront fixes its endpoint and enables it: the waiting delivery goes out.
    receiver.fail_always(path, failing=False)
    enabled = await api.post(f"{url}/enable", headers=PLATFORM)
    assert enabled.status_code == 200, enabled.text
    assert (enabled.json()["status"], enabled.json()["disabled_reason"]) == ("enabled", None)

    async def delivered() -> list[Received] | None:
        got = receiver.requests(path, order["id"])
        return got if got[-1].answered == 204 else None

    await eventually(delivered, within=20)
    assert endpoint["id"] not in [
        e["id"] for e in await every_item(api, "/v1/ops/webhook-endpoints", OPS)
    ]

    # Replayed by hand: the same event once more, and the attempt is recorded.
    before = len(receiver.requests(path, order["id"]))
    replay = await api.post(f"{url}/deliveries/{delivery['id']}/retry", headers=PLATFORM)
    assert replay.status_code == 202, replay.text
    assert replay.json()["status"] == "pending"

    async def replayed() -> list[Received] | None:
        got = receiver.requests(path, order["id"])
        return got if len(got) == before + 1 else None

    again = await eventually(replayed, within=20)
    assert again[-1].event["id"] == again[0].event["id"]
    assert again[-1].answered == 204
    (after,) = await settled(api, endpoint["id"], order["id"], 1)
    assert after["status"] == "succeeded"
    assert after["attempts"] == len(again)


@pytest.mark.parametrize(
    ("url", "rule"),
    [
        ("http://10.0.0.1/hooks", "private"),
        ("http://192.168.1.1/hooks", "private"),
        ("http://169.254.1.1/hooks", "link_local"),
        ("http://[fe80::1]/hooks", "link_local"),
        ("http://169.254.169.254/latest/meta-data/", "metadata"),
        ("http://127.0.0.1:9/hooks", "loopback"),
        ("http://localhost/hooks", "loopback"),
        ("ftp://example.com/hooks", "scheme"),
    ],
)
async def test_an_endpoint_inside_the_platforms_network_is_refused_and_nothing_is_stored(
    api: httpx.AsyncClient, url: str, rule: str
) -> None:
    before = await every_item(api, "/v1/webhook-endpoints", PLATFORM)
    answer = await api.post(
        "/v1/webhook-endpoints", json={"url": url, "event_types": ["*"]}, headers=PLATFORM
    )
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert (answer.json()["code"], answer.json()["rule"]) == ("validation_error", rule)
    assert await every_item(api, "/v1/webhook-endpoints", PLATFORM) == before


@pytest.mark.parametrize(
    ("body", "headers", "status"),
    [
        ({"url": "https://example.com/h", "event_types": ["order.shipped"]}, PLATFORM, 422),
        ({"url": "https://example.com/h", "event_types": []}, PLATFORM, 422),
        ({"url": "https://example.com/h", "event_types": ["*", "order.confirmed"]}, PLATFORM, 422),
        ({"event_types": ["*"]}, PLATFORM, 422),
        ({"url": "https://example.com/h", "event_types": ["*"], "extra": 1}, PLATFORM, 422),
        ({"url": "https://example.com/h\x00", "event_types": ["*"]}, PLATFORM, 422),
        ({"url": "https://example.com/h", "event_types": ["*"]}, OPS, 403),
        ({"url": "https://example.com/h", "event_types": ["*"]}, {}, 401),
    ],
)
async def test_a_bad_registration_is_a_problem_and_stores_nothing(
    api: httpx.AsyncClient, body: dict[str, Any], headers: dict[str, str], status: int
) -> None:
    before = await every_item(api, "/v1/webhook-endpoints", PLATFORM)
    answer = await api.post("/v1/webhook-endpoints", json=body, headers=headers)
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert await every_item(api, "/v1/webhook-endpoints", PLATFORM) == before


async def test_an_unknown_endpoint_or_delivery_is_not_found(api: httpx.AsyncClient) -> None:
    for method, path in (
        ("GET", "/v1/webhook-endpoints/we_missing"),
        ("DELETE", "/v1/webhook-endpoints/we_missing"),
        ("POST", "/v1/webhook-endpoints/we_missing/enable"),
        ("GET", "/v1/webhook-endpoints/we_missing/deliveries"),
        ("POST", "/v1/webhook-endpoints/we_missing/deliveries/1/retry"),
    ):
        answer = await api.request(method, path, headers=PLATFORM)
        assert (answer.status_code, answer.json()["code"]) == (404, "not_found"), path
