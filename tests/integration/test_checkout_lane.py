"""The checkout lane (api/checkout_lane.py) against a real Redis gate and a real order store:
a sold-out checkout is refused before the router, an admitted one reaches the route marked
as admitted and its hold ends when the route has answered, and anything the lane cannot
judge reaches the route untouched, as if the lane were not there."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pytest
from prometheus_client import REGISTRY
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.types import Message, Receive, Scope, Send
from temporalio.testing import ActivityEnvironment

from activities.orders import OrderStoreActivities
from api.checkout_lane import ADMITTED, CheckoutLane
from api.known_orders import KnownOrders
from api.request_metrics import RequestMetrics
from devstack.stack import DevStack
from domain.ids import order_id_for_idempotency_key
from stores.db import connect_redis
from stores.stock_gate import StockGate
from tests.store_helpers import create_request

PLATFORM_KEY = "pk_lane_test"
REFUSALS = "fulfillment_http_requests_total"
REFUSAL_LABELS = {"route": "/v1/orders", "status": "409"}
SKU = "LANE-MUG"


@dataclass
class Route:
    """Stands in for the router: records what reached it, and what the gate held then."""

    gate: StockGate
    seen: list[dict[str, Any]] = field(default_factory=list)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        message = await receive()
        self.seen.append(
            {
                "admitted": scope.get(ADMITTED, False),
                "body": message.get("body", b""),
                "available": await self.gate.available(SKU),
            }
        )
        await send({"type": "http.response.start", "status": 201, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})


@dataclass
class Lane:
    lane: RequestMetrics  # around the CheckoutLane, as in the app
    route: Route
    gate: StockGate
    app: Any  # what the lane finds as scope["app"]: its state, as the API's lifespan sets it
    available_when_answered: list[int | None] = field(default_factory=list)

    async def post(
        self,
        body: Any,
        *,
        key: str | None = None,
        token: str = PLATFORM_KEY,
        content_type: str = "application/json",
        path: str = "/v1/orders",
    ) -> tuple[int, dict[str, Any]]:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        headers = [
            (b"authorization", f"Bearer {token}".encode()),
            (b"content-type", content_type.encode()),
            (b"idempotency-key", (key or uuid.uuid4().hex).encode("latin-1")),
        ]
        scope = {
            "type": "http",
            "method": "POST",
            "path": path,
            "headers": headers,
            "app": self.app,
        }
        messages: list[Message] = []
        pending = [{"type": "http.request", "body": raw, "more_body": False}]

        async def receive() -> Message:
            return pending.pop(0) if pending else {"type": "http.disconnect"}

        async def send(message: Message) -> None:
            if message["type"] == "http.response.start":
                self.available_when_answered.append(await self.gate.available(SKU))
            messages.append(message)

        await self.lane(scope, receive, send)
        status = messages[0]["status"]
        return status, json.loads(b"".join(m.get("body", b"") for m in messages[1:]))


@pytest.fixture
async def redis(stack: DevStack) -> AsyncIterator[Redis]:
    client = connect_redis(stack.env["REDIS_URL"])
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture
async def lane(redis: Redis, sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[Lane]:
    gate = StockGate(redis, namespace=f"lane-{uuid.uuid4().hex[:8]}")
    await gate.rebuild({SKU: (3, 1)})
    known = KnownOrders(sessions)
    state = SimpleNamespace(
        settings=SimpleNamespace(platform_keys=(PLATFORM_KEY,), ops_keys=()),
        gate=gate,
        known_orders=known,
        sessions=sessions,
        gate_rebuild=asyncio.Lock(),
        background=set(),
    )
    route = Route(gate)
    try:
        yield Lane(RequestMetrics(CheckoutLane(route)), route, gate, SimpleNamespace(state=state))
    finally:
        await known.close()


def order(quantity: int = 1, customer: str = "cus_lane") -> dict[str, Any]:
    return {
        "customer_id": customer,
        "currency": "usd",
        "lines": [{"sku": SKU, "quantity": quantity}],
        "shipping_address": {
            "name": "Ada",
            "line1": "1 Main St",
            "city": "Springfield",
            "postal_code": "12345",
            "country": "US",
            "latitude": 39.8,
            "longitude": -89.6,
        },
        "payment_method": "pm_card_visa",
    }


async def test_a_sold_out_checkout_is_refused_before_the_route_and_changes_nothing(
    lane: Lane,
) -> None:
    counted = REGISTRY.get_sample_value(REFUSALS, REFUSAL_LABELS) or 0.0

    status, problem = await lane.post(order(quantity=5))

    assert status == 409
    assert problem["code"] == "insufficient_stock"
    assert problem["items"] == [{"sku": SKU, "requested": 5, "available": 3}]
    assert lane.route.seen == []
    assert await lane.gate.available(SKU) == 3
    # Counted under the checkout route, as a refusal by the route itself would be.
    assert REGISTRY.get_sample_value(REFUSALS, REFUSAL_LABELS) == counted + 1


async def test_an_admitted_checkout_reaches_the_route_holding_its_units_until_it_answers(
    lane: Lane,
) -> None:
    body = json.dumps(order(quantity=2)).encode()

    status, _ = await lane.post(body)

    assert status == 201
    # The route saw the very bytes sent, knew the gate had been asked, and the hold counted
    # while it worked; once it answered the hold ended (the saga's own change counts then).
    assert lane.route.seen == [{"admitted": True, "body": body, "available": 1}]
    # Ended before the answer started (as when the route ended it): a buyer's next checkout
    # never meets the hold counted beside the saga's own reservation.
    assert lane.available_when_answered == [3]
    assert await lane.gate.available(SKU) == 3


async def test_a_retry_of_a_known_order_is_never_refused_even_when_the_gate_forgot_it(
    lane: Lane, order_store: OrderStoreActivities
) -> None:
    key = uuid.uuid4().hex
    recorded = create_request(order_id=order_id_for_idempotency_key("platform", key))
    await ActivityEnvironment().run(order_store.create, recorded)

    status, _ = await lane.post(order(quantity=5), key=key)

    # The gate would refuse 5 of 3, but the order exists: the retry attaches to its saga.
    assert status == 201
    assert lane.route.seen[0]["admitted"] is True
    assert await lane.gate.available(SKU) == 3


async def test_the_same_checkout_sent_twice_at_once_holds_its_units_once(lane: Lane) -> None:
    key = uuid.uuid4().hex

    answers = await asyncio.gather(*(lane.post(order(quantity=2), key=key) for _ in range(2)))

    # Both reach the route (which attaches both to one saga); only one of them held the
    # units: the route saw 1 left, never less (3 if the other's hold had already ended), and
    # nothing is left held afterwards.
    assert [status for status, _ in answers] == [201, 201]
    assert [seen["admitted"] for seen in lane.route.seen] == [True, True]
    assert min(seen["available"] for seen in lane.route.seen) == 1
    assert await lane.gate.available(SKU) == 3


async def test_a_refused_key_sent_again_with_another_order_is_refused_as_a_reused_key(
    lane: Lane,
) -> None:
    key = uuid.uuid4().hex
    first, _ = await lane.post(order(quantity=5), key=key)
    again, repeated = await lane.post(order(quantity=5), key=key)

    status, problem = await lane.post(order(quantity=1), key=key)

    # A refusal is the key's answer for good (API.md): the same body is refused the same
    # way, another body under the key is a reused key, even though 1 unit is in stock.
    assert (first, again, repeated["code"]) == (409, 409, "insufficient_stock")
    assert (status, problem["code"]) == (422, "idempotency_key_reused")
    assert lane.route.seen == []


@pytest.mark.parametrize(
    "request_changes",
    [
        pytest.param({"token": "vk_some_vendor"}, id="another-api-key"),
        pytest.param({"key": "bad\x01key"}, id="unusable-idempotency-key"),
        pytest.param({"content_type": "text/plain"}, id="not-json"),
        pytest.param({"body": {**order(quantity=5), "currency": "USD"}}, id="invalid-body"),
        pytest.param({"body": b"{not json"}, id="malformed-json"),
        pytest.param({"body": b""}, id="empty-body"),
        pytest.param({"body": {**order(quantity=5), "customer_id": "cus\x00"}}, id="nul-byte"),
        pytest.param(
            {"body": {**order(quantity=5), "lines": [{"sku": SKU, "quantity": 5}] * 101}},
            id="too-many-lines",
        ),
        # json.loads (FastAPI's parser) refuses more than 4,300 digits; pydantic's own would
        # not, and the lane must not judge a body the route answers with a 400.
        pytest.param(
            {
                "body": json.dumps(order(quantity=5))[:-1].encode()
                + b', "x": 1'
                + b"0" * 5000
                + b"}"
            },
            id="number-json-loads-refuses",
        ),
        pytest.param({"path": "/v1/orders/ord_1"}, id="another-route"),
    ],
)
async def test_what_the_lane_cannot_judge_reaches_the_route_undecided(
    lane: Lane, request_changes: dict[str, Any]
) -> None:
    body = request_changes.pop("body", order(quantity=5))

    status, _ = await lane.post(body, **request_changes)

    # Five of three is refused by the lane when the request is one it judges (the first
    # test): reaching the route proves the lane stood aside, and the route (which asks the
    # gate itself) is told nothing was decided.
    assert status == 201
    assert [seen["admitted"] for seen in lane.route.seen] == [False]
    assert await lane.gate.available(SKU) == 3


async def test_a_gate_that_fails_unexpectedly_leaves_the_decision_to_the_route(
    lane: Lane, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("a bug in the gate")

    monkeypatch.setattr(lane.gate, "admit", broken)

    status, _ = await lane.post(order(quantity=5))

    assert status == 201
    assert [seen["admitted"] for seen in lane.route.seen] == [False]


async def test_a_client_that_leaves_before_its_body_gets_no_answer_and_holds_nothing(
    lane: Lane,
) -> None:
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/v1/orders",
        "headers": [
            (b"authorization", f"Bearer {PLATFORM_KEY}".encode()),
            (b"content-type", b"application/json"),
            (b"idempotency-key", b"k-left"),
        ],
        "app": lane.app,
    }
    await lane.lane(scope, receive, send)

    assert sent == [] and lane.route.seen == []
    assert await lane.gate.available(SKU) == 3
