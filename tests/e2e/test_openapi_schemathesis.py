"""Schemathesis holds the running API to its own OpenAPI document: no answer is a 5xx, and
every answer's status, content type, body and declared headers are ones the document declares
for that route (docs/openapi.md). A route that starts answering a status or a problem code it
does not declare fails here (each problem's `code` is narrowed per route and status).

Through the real HTTP stack (the session `stack`: uvicorn, the worker, PostgreSQL, Redis,
Temporal, the emulators). Each operation is called with a key of the first role it takes
(platform, ops, then a vendor made for the test), with cases drawn from the document: valid
ones (positive), invalid ones (negative), and valid ones naming a small world's real ids, so
requests also get past the 404s to the routes' own work (an order awaiting shipment can be
shipped, cancelled, refunded...).

Nothing leaves the machine: every string under a key naming a URL in a generated body (a
vendor's `webhook_url` at onboarding, `url` of PUT /v1/vendors/{id}/webhook and of
POST /v1/webhook-endpoints) is replaced by a loopback URL before the request is sent, so the
API refuses it (loopback is not an allowed host) or, at worst, a delivery would knock on this
machine; no host name is generated that the API would resolve. The Stripe and Shippo webhooks
are fuzzed for their refusal path only: the signature and the token drawn are never the
stack's secrets. The two server-sent-event streams are left out: a stream that was granted
never ends (tests/e2e/test_order_stream_returns.py covers them).

Budget: EXAMPLES cases per operation, derandomized (the same requests every run), about a
minute on 2 cores once the stack is up. SCHEMATHESIS_EXAMPLES=200 explores further, at random.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api.app import create_app
from devstack.stack import DevStack
from models.settings import Settings
from tests.e2e.client import OPS, PLATFORM, onboard, order_body, place, stock_product

EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "4"))
DERANDOMIZE = "SCHEMATHESIS_EXAMPLES" not in os.environ
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    # The Retry-After and RateLimit-* headers are what the document says they are.
    response_headers_conformance,
]
DOCUMENT = create_app(Settings()).openapi()
SCHEMA = schemathesis.openapi.from_dict(DOCUMENT)
# Where a URL given by a caller would be called by the platform: always this machine.
LOOPBACK_URL = "http://127.0.0.1:9/schemathesis"


def _operations() -> list[tuple[str, str]]:
    found = []
    for path, operations in DOCUMENT["paths"].items():
        for method, operation in operations.items():
            answers = operation["responses"].get("200", {}).get("content", {})
            if "text/event-stream" not in answers:
                found.append((method.upper(), path))
    return found


OPERATIONS = _operations()


@dataclass(frozen=True)
class World:
    """Real ids the cases may name, and a key per role."""

    ids: dict[str, str]
    keys: dict[str, dict[str, str]]


@pytest.fixture(scope="module")
def world(stack: DevStack) -> World:
    async def build() -> World:
        async with httpx.AsyncClient(base_url=stack.api_url, timeout=60) as api:
            seller = await onboard(api, "Schemathesis")
            sku = await stock_product(api, seller, price_cents=1500, on_hand=50)
            placed = await place(api, order_body([(sku, 1)]))
            assert placed.status_code == 201, placed.text
            order = placed.json()
            return World(
                ids={
                    "vendor_id": seller.id,
                    "sku": sku,
                    "warehouse_id": seller.warehouse_id,
                    "order_id": order["id"],
                    "vendor_order_id": order["vendor_orders"][0]["id"],
                },
                keys={"platform": PLATFORM, "ops": OPS, "vendor": seller.auth},
            )

    return asyncio.run(build())


def loopback_urls(value: Any) -> Any:
    """Every string under a key naming a URL, anywhere in a body, points at loopback."""
    if isinstance(value, list):
        return [loopback_urls(item) for item in value]
    if not isinstance(value, dict):
        return value
    return {
        key: (
            LOOPBACK_URL
            if isinstance(key, str) and "url" in key.lower() and isinstance(item, str)
            else loopback_urls(item)
        )
        for key, item in value.items()
    }


def test_loopback_urls_rewrites_every_url_field_and_nothing_else() -> None:
    body = {
        "url": "https://example.com/hook",
        "webhook_url": "http://169.254.169.254/",
        "name": "https://example.com",
        "nested": [{"callback_URL": "//evil.example"}],
        "count": 3,
    }
    assert loopback_urls(body) == {
        "url": LOOPBACK_URL,
        "webhook_url": LOOPBACK_URL,
        "name": "https://example.com",
        "nested": [{"callback_URL": LOOPBACK_URL}],
        "count": 3,
    }


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_every_answer_is_one_the_document_declares(
    method: str, path: str, world: World, stack: DevStack
) -> None:
    operation = SCHEMA[path][method]
    roles = DOCUMENT["paths"][path][method.lower()].get("x-roles", [])
    auth = world.keys[roles[0]] if roles else {}
    known = {name: world.ids[name] for name in world.ids if "{" + name + "}" in path}
    strategies = [
        operation.as_strategy(GenerationMode.POSITIVE, headers=auth),
        operation.as_strategy(GenerationMode.NEGATIVE, headers=auth),
    ]
    if known:
        strategies.append(
            operation.as_strategy(GenerationMode.POSITIVE, headers=auth, path_parameters=known)
        )
    answered: list[int] = []

    @settings(
        max_examples=EXAMPLES * len(strategies),
        derandomize=DERANDOMIZE,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=st.one_of(strategies))
    def call(case: Any) -> None:
        if isinstance(case.body, (dict, list)):
            case.body = loopback_urls(case.body)
        answer = case.call_and_validate(base_url=stack.api_url, headers=auth, checks=CHECKS)
        answered.append(answer.status_code)

    call()
    # Something was sent, and answered (a case the transport could not send proves nothing).
    assert answered
