"""Rate limits per API key (api/rate_limit.py): a burst over a key's budget is refused with 429
`rate_limited`, `Retry-After` and the RateLimit-* headers, changes nothing, and spends no
other key's budget; provider webhooks, /healthz and /metrics are never counted.

The stack's own limits are set far above what any test sends (tests/conftest.py). Here an API
app of this test's own, with low limits, runs on the stack's PostgreSQL, Redis and Temporal
(the stack's worker runs its workflows); each test gets fresh buckets: fresh vendors, and a
platform key of its own beside the stack's (a second key, as in a rotation).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from api.app import create_app
from devstack.stack import DevStack
from domain.ids import order_id_for_idempotency_key
from models.settings import Settings
from tests.e2e.client import OPS, PLATFORM, bearer, onboard, order_body, stock_product
from tests.e2e.snapshot import connect, snapshot

LIMIT = 4
ANONYMOUS_LIMIT = 3
WINDOW_SECONDS = 60


@asynccontextmanager
async def limited_api(stack: DevStack, platform_key: str) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(
        **{
            **stack.env,
            # Traces off: an app built in the test process would instrument this process's
            # HTTP clients (tests/e2e/test_dependencies_down.py says why that matters).
            "FULFILLMENT_TRACES": "off",
            "FULFILLMENT_PLATFORM_KEY": f"{stack.env['FULFILLMENT_PLATFORM_KEY']},{platform_key}",
            "FULFILLMENT_RATE_LIMIT_WINDOW": str(WINDOW_SECONDS),
            "FULFILLMENT_RATE_LIMIT_PLATFORM": str(LIMIT),
            "FULFILLMENT_RATE_LIMIT_VENDOR": str(LIMIT),
            "FULFILLMENT_RATE_LIMIT_OPS": str(LIMIT),
            "FULFILLMENT_RATE_LIMIT_ANONYMOUS": str(ANONYMOUS_LIMIT),
        }
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        # Each test its own client address: the anonymous budget is per address.
        transport = httpx.ASGITransport(
            app=app, raise_app_exceptions=False, client=(f"10.9.{_byte()}.{_byte()}", 4711)
        )
        async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as client:
            yield client


def _byte() -> int:
    return uuid.uuid4().int % 250 + 1


def fresh_platform_key() -> str:
    return "pk-test-" + uuid.uuid4().hex


def refused(answer: httpx.Response, limit: int = LIMIT) -> dict[str, Any]:
    assert answer.status_code == 429, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = answer.json()
    assert (body["status"], body["code"]) == (429, "rate_limited")
    retry_after = int(answer.headers["retry-after"])
    # The bucket refills one request every WINDOW / LIMIT seconds.
    assert 1 <= retry_after <= WINDOW_SECONDS // limit
    assert body["retry_after"] == retry_after
    assert answer.headers["ratelimit-limit"] == str(limit)
    assert answer.headers["ratelimit-remaining"] == "0"
    assert 0 < int(answer.headers["ratelimit-reset"]) <= WINDOW_SECONDS
    return body


async def test_a_burst_over_a_vendor_keys_budget_is_refused_while_another_vendor_goes_on(
    stack: DevStack, api: httpx.AsyncClient
) -> None:
    # Given two vendors
    first, second = await onboard(api, "Burst"), await onboard(api, "Calm")
    async with limited_api(stack, fresh_platform_key()) as limited:
        # When the first sends twice its budget at once
        burst = await asyncio.gather(
            *(limited.get("/v1/vendor/orders", headers=first.auth) for _ in range(2 * LIMIT))
        )
        # and the second then asks once
        calm = await limited.get("/v1/vendor/orders", headers=second.auth)
    # Then the first's budget was answered, the rest refused with the headers
    answered = [a for a in burst if a.status_code == 200]
    assert len(answered) == LIMIT
    assert sorted(int(a.headers["ratelimit-remaining"]) for a in answered) == [0, 1, 2, 3]
    assert all(a.headers["ratelimit-limit"] == str(LIMIT) for a in answered)
    for answer in burst:
        if answer.status_code != 200:
            refused(answer)
    # and the second vendor's budget is whole
    assert calm.status_code == 200, calm.text
    assert (calm.headers["ratelimit-limit"], calm.headers["ratelimit-remaining"]) == ("4", "3")


async def test_a_refused_checkout_burst_holds_no_stock_starts_no_order_and_keeps_no_answer(
    stack: DevStack, api: httpx.AsyncClient
) -> None:
    # Given a product with five units, and a platform key whose budget is spent
    seller = await onboard(api, "Ratelimited")
    sku = await stock_product(api, seller, price_cents=1500, on_hand=5)
    key = fresh_platform_key()
    with connect(stack.env["DATABASE_URL"]) as db:
        before = snapshot(db, [seller.id])
        async with limited_api(stack, key) as limited:
            for _ in range(LIMIT):
                read = await limited.get(f"/v1/products/{sku}", headers=bearer(key))
                assert read.status_code == 200, read.text
            # When that key sends a burst of checkouts, and the vendor (its budget spent too)
            # an idempotent write
            keys = [uuid.uuid4().hex for _ in range(5)]
            checkouts = await asyncio.gather(
                *(
                    limited.post(
                        "/v1/orders",
                        json=order_body([(sku, 1)]),
                        headers={**bearer(key), "Idempotency-Key": k},
                    )
                    for k in keys
                )
            )
            for _ in range(LIMIT):
                assert (await limited.get("/v1/vendor/orders", headers=seller.auth)).is_success
            write_key = uuid.uuid4().hex
            write = await limited.post(
                f"/v1/vendors/{seller.id}/warehouses",
                json={
                    "name": "Over",
                    "postal_code": "1",
                    "country": "US",
                    "latitude": 1,
                    "longitude": 1,
                },
                headers={**seller.auth, "Idempotency-Key": write_key},
            )
        # Then every one is refused
        for answer in [*checkouts, write]:
            refused(answer)
        # and nothing changed: no stock held, no order, no answer kept for a retry
        assert snapshot(db, [seller.id]) == before
        kept = db.execute(
            "SELECT count(*) FROM idempotency_record WHERE key = ANY(%s)", ([*keys, write_key],)
        ).fetchone()
        assert kept == (0,)
    level = (await api.get(f"/v1/inventory/{sku}", headers=OPS)).json()
    assert (level["on_hand"], level["reserved"], level["available"]) == (5, 0, 5)
    temporal = await Client.connect(stack.env["TEMPORAL_ADDRESS"])
    for k in keys:
        order_id = order_id_for_idempotency_key("platform", k)
        assert (await api.get(f"/v1/orders/{order_id}", headers=PLATFORM)).status_code == 404
        with pytest.raises(RPCError) as missing:
            await temporal.get_workflow_handle(f"order-{order_id}").describe()
        assert missing.value.status == RPCStatusCode.NOT_FOUND


async def test_provider_webhooks_health_and_metrics_spend_no_budget(stack: DevStack) -> None:
    key = fresh_platform_key()
    async with limited_api(stack, key) as limited:
        # Given the platform key's budget and this address's anonymous budget spent
        for _ in range(LIMIT):
            assert (await limited.get("/v1/ops/orders", headers=bearer(key))).status_code == 403
        for _ in range(ANONYMOUS_LIMIT):
            assert (await limited.get("/v1/ops/orders")).status_code == 401
        refused(await limited.get("/v1/ops/orders", headers=bearer(key)))
        refused(await limited.get("/v1/ops/orders"), ANONYMOUS_LIMIT)
        # When Stripe, Shippo, a health check and Prometheus call, many times over
        token = stack.env["SHIPPO_WEBHOOK_TOKEN"]
        shippo = [
            await limited.post(
                "/v1/webhooks/shippo",
                params={"token": token},
                json={"event": "transaction_created", "data": {}},
            )
            for _ in range(3 * LIMIT)
        ]
        stripe = [
            await limited.post("/v1/webhooks/stripe", content=b"{}") for _ in range(3 * LIMIT)
        ]
        health = [await limited.get("/healthz") for _ in range(3 * LIMIT)]
        metrics = [await limited.get("/metrics") for _ in range(3 * LIMIT)]
    # Then none is refused for its rate, and none is counted
    assert {a.status_code for a in shippo} == {200}
    assert {a.status_code for a in stripe} == {400}  # unsigned, as it should be
    assert {a.status_code for a in health} == {200}
    assert {a.status_code for a in metrics} == {200}
    for answer in [*shippo, *stripe, *health, *metrics]:
        assert "ratelimit-limit" not in answer.headers


async def test_a_client_guessing_keys_spends_one_budget_however_many_keys_it_tries(
    stack: DevStack,
) -> None:
    async with limited_api(stack, fresh_platform_key()) as limited:
        guesses = [
            await limited.get("/v1/vendor/orders", headers=bearer(f"guess-{n}"))
            for n in range(ANONYMOUS_LIMIT + 2)
        ]
    assert [a.status_code for a in guesses] == [401] * ANONYMOUS_LIMIT + [429, 429]
    refused(guesses[-1], ANONYMOUS_LIMIT)


async def test_every_answer_of_the_stack_tells_the_callers_budget(
    api: httpx.AsyncClient,
) -> None:
    first = await api.get("/v1/ops/orders", headers=OPS)
    second = await api.get("/v1/ops/orders", headers=OPS)
    assert (first.status_code, second.status_code) == (200, 200)
    limit = 1_000_000
    assert first.headers["ratelimit-limit"] == second.headers["ratelimit-limit"] == str(limit)
    assert first.headers["ratelimit-policy"] == f"{limit};w=60"
    assert 0 <= int(second.headers["ratelimit-remaining"]) < limit
    assert int(first.headers["ratelimit-reset"]) >= 0
