"""Arbitrary input at every route never gets a 5xx, and a refusal changes nothing.

Routes come from the app's OpenAPI document, so a new route is fuzzed without a change here.
For each, hypothesis draws the caller (each role, another vendor, nobody), path and query
parameters, an Idempotency-Key and a body: mostly valid values of the schema (ids of a small
world made for the fuzz, so requests get past the 404s) with any part swapped for something
hostile (NUL, lone surrogates, 100,000 characters, 2^31, 2^63, huge, negative and
non-finite numbers, other JSON shapes). Webhook bodies are signed (or carry the Shippo token)
three times out of four, with the stack's real secrets; URLs in bodies point at loopback.

Each answer must be below 500; an error must be application/problem+json whose `status` is
the HTTP status; and when a request is refused, the row counts of every table and the stock
levels must be as they were (tests/e2e/snapshot.py). Checkouts the fuzz sent must not leave a
saga retrying an activity.

Budget: FUZZ_EXAMPLES examples per route. Unset: 6, derandomized (the same requests every
run), about a minute for the file on 2 cores with the stack's start. Set (say 100, about
4 minutes): random, to explore; FUZZ_REPORT=1 with -s prints the statuses each route gave.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

import httpx
import psycopg
import pytest
import stripe
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from api.app import create_app
from devstack.stack import DevStack
from domain.ids import order_id_for_idempotency_key, order_workflow_id
from models.settings import Settings
from tests.e2e.client import (
    OPS,
    PLATFORM,
    Seller,
    bearer,
    onboard,
    order_body,
    place,
    stock_product,
    wait_for_order,
)
from tests.e2e.money import ship_and_deliver
from tests.e2e.snapshot import connect, snapshot

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "6"))
# The bounded run is the same every time (make test must not pass or fail by luck); a long
# run explores.
DERANDOMIZE = "FUZZ_EXAMPLES" not in os.environ
# FUZZ_REPORT=1 (with pytest -s): how many answers of each status each route gave.
REPORT = bool(os.environ.get("FUZZ_REPORT"))
# Long enough for a stuck saga's activity to reach its fourth attempt (0.2 s, x2 backoff).
SAGA_SETTLE_SECONDS = 3.0
UNSENDABLE = {"/healthz", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    operation: dict[str, Any]

    @property
    def id(self) -> str:
        return f"{self.method} {self.path}"


def _routes() -> tuple[list[Route], dict[str, Any]]:
    document = create_app(Settings()).openapi()
    routes = [
        Route(method.upper(), path, operation)
        for path, operations in document["paths"].items()
        if path not in UNSENDABLE
        for method, operation in operations.items()
    ]
    return routes, document.get("components", {}).get("schemas", {})


ROUTES, SCHEMAS = _routes()


@dataclass
class World:
    """What the fuzz may name: one vendor owning stock and a finished order (nothing of it
    runs on a timer any more), another to be renamed and re-configured at will."""

    seller: Seller
    other: Seller
    sku: str
    order_id: str
    vendor_order_id: str
    webhook_secret: str
    shippo_token: str
    checkout_keys: list[str] = field(default_factory=list)

    @property
    def vendors(self) -> list[str]:
        return [self.seller.id, self.other.id]

    def pool(self, name: str) -> list[str]:
        return {
            "vendor_id": [self.other.id],
            "sku": [self.sku],
            "warehouse_id": [self.seller.warehouse_id],
            "order_id": [self.order_id],
            "vendor_order_id": [self.vendor_order_id],
            "return_id": ["ret_missing"],
            "customer_id": ["cus_fuzz"],
            "payment_method": ["pm_card_visa", "pm_card_visa_chargeDeclined"],
            "currency": ["usd"],
            "country": ["US"],
            "token": [self.shippo_token],
        }.get(name, [])

    def caller(self, role: str) -> dict[str, str]:
        return {
            "platform": PLATFORM,
            "ops": OPS,
            "vendor": self.seller.auth,
            "other vendor": self.other.auth,
            "nobody": {},
            "a wrong key": bearer("vk_not_a_key"),
        }[role]


@pytest.fixture(scope="module")
def world(stack: DevStack) -> World:
    async def build() -> World:
        async with httpx.AsyncClient(base_url=stack.api_url, timeout=60) as api:
            seller = await onboard(api, "Fuzzed")
            other = await onboard(api, "Fuzzother")
            sku = await stock_product(api, seller, price_cents=2500, on_hand=500)
            placed = await place(api, order_body([(sku, 1)]))
            assert placed.status_code == 201, placed.text
            order = placed.json()
            vendor_order = order["vendor_orders"][0]["id"]
            await ship_and_deliver(api, seller, vendor_order)
            await wait_for_order(api, order["id"], "completed")
            return World(
                seller,
                other,
                sku,
                order["id"],
                vendor_order,
                stack.env["STRIPE_WEBHOOK_SECRET"],
                stack.env["SHIPPO_WEBHOOK_TOKEN"],
            )

    return asyncio.run(build())


# --- hostile values ---------------------------------------------------------------------

HOSTILE_TEXT = st.one_of(
    st.sampled_from(
        ["", "\x00", "a\x00b", "\ud800", "x\udfff", "\ufeff", "%00", "../..", "' OR 1=1 --"]
    ),
    st.text(st.characters(codec=None, categories=None), max_size=40),
    st.sampled_from(["x" * 100_000, "\u00e9" * 5_000, "\U0001f600" * 2_000]),
)
HOSTILE_NUMBERS = st.one_of(
    st.sampled_from(
        [2**31 - 1, 2**31, -(2**31) - 1, 2**63 - 1, 2**63, -(2**63), 2**64, 10**30, -1, 0]
    ),
    st.sampled_from([0.5, -0.0, 1e308, -1e308, 1e-300, math.inf, -math.inf, math.nan]),
    st.integers(),
    st.floats(),
)
HOSTILE_JSON = st.recursive(
    st.one_of(st.none(), st.booleans(), HOSTILE_NUMBERS, HOSTILE_TEXT),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(HOSTILE_TEXT, inner, max_size=3)
    ),
    max_leaves=6,
)


def resolve(schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = SCHEMAS[schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def valid(schema: dict[str, Any], world: World, name: str = "") -> st.SearchStrategy[Any]:
    """Values the schema accepts (or nearly: patterns and bounds are followed, not proved)."""
    schema = resolve(schema)
    if "anyOf" in schema:
        return st.one_of([valid(option, world, name) for option in schema["anyOf"]])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    if "const" in schema:
        return st.just(schema["const"])
    kind = schema.get("type")
    pool = world.pool(name)
    if kind == "string":
        if pool:
            return st.sampled_from(pool)
        if "pattern" in schema:
            return st.from_regex(schema["pattern"], fullmatch=True).filter(
                lambda s: len(s) <= schema.get("maxLength", 64)
            )
        if schema.get("format") == "email":
            return st.just(f"fuzz-{uuid.uuid4().hex[:6]}@example.com")
        return st.text(
            st.characters(min_codepoint=0x20, max_codepoint=0x2FF),
            min_size=schema.get("minLength", 0),
            max_size=min(schema.get("maxLength", 20), 20),
        )
    if kind == "integer":
        low, high = schema.get("minimum"), schema.get("maximum")
        if schema.get("exclusiveMinimum") is not None:
            low = schema["exclusiveMinimum"] + 1
        return st.integers(low, high if high is not None else (low or 0) + 1000)
    if kind == "number":
        return st.floats(
            schema.get("minimum", schema.get("exclusiveMinimum", -1000)),
            schema.get("maximum", 1000),
            allow_nan=False,
            exclude_min="exclusiveMinimum" in schema,
        )
    if kind == "boolean":
        return st.booleans()
    if kind == "null":
        return st.none()
    if kind == "array":
        items = valid(schema.get("items", {}), world, name)
        return st.lists(
            mostly(items, HOSTILE_JSON, odds=7),
            min_size=schema.get("minItems", 0),
            max_size=max(schema.get("minItems", 0), 3),
        )
    if kind == "object" or "properties" in schema:
        properties = schema.get("properties", {})
        required = set(schema.get("required", ()))
        return st.fixed_dictionaries(
            {
                key: field_value(value, world, key)
                for key, value in properties.items()
                if key in required
            },
            optional={
                key: field_value(value, world, key)
                for key, value in properties.items()
                if key not in required
            },
        )
    return HOSTILE_JSON


def field_value(schema: dict[str, Any], world: World, name: str) -> st.SearchStrategy[Any]:
    # Mostly valid, so a request gets as far as it can; sometimes hostile, to see where it stops.
    return mostly(valid(schema, world, name), HOSTILE_JSON, odds=7)


def body_of(route: Route, world: World) -> st.SearchStrategy[Any]:
    content = route.operation.get("requestBody", {}).get("content", {})
    schema = content.get("application/json", {}).get("schema")
    if route.path == "/v1/webhooks/stripe":
        return mostly(stripe_events(), HOSTILE_JSON, odds=2)
    if schema is None:
        return st.one_of(st.none(), HOSTILE_JSON)
    return mostly(valid(schema, world), HOSTILE_JSON, odds=2)


def mostly(
    good: st.SearchStrategy[Any], bad: st.SearchStrategy[Any], odds: int = 4
) -> st.SearchStrategy[Any]:
    """`good` about `odds` times out of `odds` + 1 (one_of would not weigh repeated branches);
    hypothesis favours 0, and shrinks towards it: the good side."""
    return st.integers(0, odds).flatmap(lambda pick: bad if pick == odds else good)


def stripe_events() -> st.SearchStrategy[dict[str, Any]]:
    """Event-shaped bodies (the handlers' own paths), with hostile values inside."""
    ids = mostly(
        st.from_regex(r"(pi|ch|re|tr|trr|dp|vo)_[a-z0-9]{6}", fullmatch=True), HOSTILE_JSON
    )
    amounts = mostly(st.integers(0, 10_000), HOSTILE_JSON)
    payload = st.fixed_dictionaries(
        {"id": ids},
        optional={
            "object": st.sampled_from(["charge", "refund", "dispute", "transfer_reversal"]),
            "payment_intent": ids,
            "charge": ids,
            "transfer": ids,
            "amount": amounts,
            "amount_refunded": amounts,
            "status": mostly(
                st.sampled_from(["succeeded", "failed", "won", "lost", "pending"]), HOSTILE_JSON
            ),
            "metadata": mostly(
                st.dictionaries(st.sampled_from(["vendor_order_id", "source"]), ids), HOSTILE_JSON
            ),
            "refunds": mostly(
                st.fixed_dictionaries(
                    {
                        "data": st.lists(
                            st.fixed_dictionaries({"id": ids, "amount": amounts}), max_size=2
                        )
                    }
                ),
                HOSTILE_JSON,
            ),
            "reversals": HOSTILE_JSON,
        },
    )
    return st.fixed_dictionaries(
        {
            "id": mostly(st.uuids().map(lambda u: f"evt_{u.hex[:16]}"), HOSTILE_TEXT),
            "object": st.just("event"),
            "type": mostly(
                st.sampled_from(
                    [
                        "charge.refunded",
                        "charge.refund.updated",
                        "refund.created",
                        "refund.updated",
                        "charge.dispute.created",
                        "charge.dispute.closed",
                        "charge.dispute.updated",
                        "transfer.reversed",
                        "payment_intent.payment_failed",
                        "account.updated",
                    ]
                ),
                HOSTILE_TEXT,
            ),
            "created": st.integers(0, 2**31),
            "data": mostly(st.fixed_dictionaries({"object": payload}), HOSTILE_JSON),
        }
    )


def loopback_urls(value: Any) -> Any:
    """Whatever the fuzz wrote in a URL field points at this machine (never off it)."""
    if isinstance(value, list):
        return [loopback_urls(item) for item in value]
    if not isinstance(value, dict):
        return value
    return {
        key: (
            f"http://127.0.0.1:9/{quote(item[:20], safe='')}"
            if isinstance(key, str)
            and "url" in key.lower()
            and isinstance(item, str)
            and (":" in item or item.startswith("//"))
            else loopback_urls(item)
        )
        for key, item in value.items()
    }


def path_value(world: World, name: str) -> st.SearchStrategy[str]:
    short = HOSTILE_TEXT.filter(lambda s: 0 < len(s) <= 2_000)
    return st.one_of(st.sampled_from(world.pool(name) or ["x"]), short)


# A webhook signed with the real secret (or the real Shippo token) three times out of four.
OFTEN = st.integers(0, 3).map(lambda pick: pick != 3)


def header_value() -> st.SearchStrategy[str]:
    printable = st.characters(min_codepoint=0x20, max_codepoint=0x7E)
    # What HTTP/1.1 can carry: no surrounding blanks, no control characters but DEL (a NUL
    # in a header is refused before sending; tests/unit/test_http_problems.py sends one).
    return mostly(
        st.uuids().map(str),
        st.text(printable, min_size=0, max_size=300).map(str.strip)
        | st.sampled_from(["a\tb", "a\x7fb", "k" * 10_000]),
        odds=2,
    )


def utf8(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


@dataclass
class Request:
    role: str
    url: str
    headers: dict[str, str]
    body: bytes | None
    event_id: str | None = None


@st.composite
def requests(draw: st.DrawFn, route: Route, world: World) -> Request:
    path = route.path
    query: list[tuple[str, str]] = []
    headers: dict[str, str] = {}
    for parameter in route.operation.get("parameters", []):
        name, where = parameter["name"], parameter["in"]
        if where == "path":
            value = draw(path_value(world, name))
            path = path.replace("{" + name + "}", quote(utf8(value), safe=""))
        elif where == "query" and (parameter.get("required") or draw(st.booleans())):
            value = draw(
                field_value(parameter.get("schema", {}), world, name)
                .map(lambda v: v if isinstance(v, str) else json.dumps(v))
                .filter(lambda v: len(v) <= 2_000)
            )
            query.append((name, value))
        elif where == "header" and (parameter.get("required") or draw(st.booleans())):
            headers[name] = draw(header_value())
    if route.path == "/v1/webhooks/shippo" and draw(OFTEN):
        query = [("token", world.shippo_token)]
    body = loopback_urls(draw(body_of(route, world)))
    payload = None if body is None else json.dumps(body, allow_nan=True)
    event_id = None
    if route.path == "/v1/webhooks/stripe" and payload is not None:
        if isinstance(body, dict) and isinstance(body.get("id"), str):
            event_id = body["id"]
        if draw(OFTEN):
            headers["Stripe-Signature"] = stripe.WebhookSignature.generate_signature_header(
                payload, world.webhook_secret
            )
    if payload is not None:
        headers["content-type"] = "application/json"
    url = path + ("?" + urlencode(query, encoding="utf-8", errors="surrogatepass") if query else "")
    # Weighted towards the callers routes take, so most requests get past authorization.
    role = draw(
        st.sampled_from(
            ["platform"] * 3
            + ["ops"] * 4
            + ["vendor"] * 4
            + ["other vendor", "nobody", "a wrong key"]
        )
    )
    return Request(role, url, headers, None if payload is None else utf8(payload), event_id)


# --- the property ------------------------------------------------------------------------


@dataclass
class Answer:
    status: int
    content_type: str
    body: bytes


def send(client: httpx.Client, method: str, request: Request, world: World) -> Answer:
    headers = {**world.caller(request.role), **request.headers}
    with client.stream(method, request.url, headers=headers, content=request.body) as answer:
        content_type = answer.headers.get("content-type", "")
        # A stream that was opened is an answer: its first event is never waited for.
        body = b"" if content_type.startswith("text/event-stream") else answer.read()
        return Answer(answer.status_code, content_type, body)


def settled(db: psycopg.Connection[Any], vendors: list[str]) -> dict[str, Any]:
    """The snapshot once what an accepted request set moving has come to rest."""
    deadline = time.monotonic() + 5
    previous = snapshot(db, vendors)
    while time.monotonic() < deadline:
        time.sleep(0.3)
        current = snapshot(db, vendors)
        if current == previous:
            return current
        previous = current
    return previous


def event_recorded(db: psycopg.Connection[Any], event_id: str) -> bool:
    if "\x00" in event_id:
        return False
    found = db.execute(
        "SELECT count(*) FROM webhook_event WHERE id = %s",
        (event_id.encode("utf-8", "replace").decode(),),
    ).fetchone()
    return bool(found and found[0])


@pytest.mark.parametrize("route", ROUTES, ids=[route.id for route in ROUTES])
def test_no_input_gets_a_5xx_and_a_refusal_changes_nothing(
    route: Route, world: World, stack: DevStack
) -> None:
    with (
        httpx.Client(base_url=stack.api_url, timeout=60) as client,
        connect(stack.env["DATABASE_URL"]) as db,
    ):
        state = {"moved": True}
        answered: Counter[int] = Counter()

        @settings(
            max_examples=EXAMPLES,
            derandomize=DERANDOMIZE,
            deadline=None,
            database=None,
            print_blob=True,
            suppress_health_check=list(HealthCheck),
        )
        @given(request=requests(route, world))
        def fuzz(request: Request) -> None:
            before = settled(db, world.vendors) if state["moved"] else snapshot(db, world.vendors)
            known = request.event_id is not None and event_recorded(db, request.event_id)
            if route.id == "POST /v1/orders" and "Idempotency-Key" in request.headers:
                world.checkout_keys.append(request.headers["Idempotency-Key"])
            answer = send(client, route.method, request, world)
            answered[answer.status] += 1
            assert answer.status < 500, (answer.status, answer.body[:500])
            state["moved"] = answer.status < 400
            if answer.status < 400:
                return
            assert answer.content_type == "application/problem+json", answer
            problem = json.loads(answer.body)
            assert problem["status"] == answer.status, problem
            assert snapshot(db, world.vendors) == before, (answer.status, problem)
            if request.event_id is not None:
                assert event_recorded(db, request.event_id) == known

        fuzz()
        if REPORT:
            print(f"\n{route.id}: answered {dict(sorted(answered.items()))}")
    if route.id == "POST /v1/orders":
        # Every saga the fuzz's checkouts started is finished, or waits for its vendors: none
        # is left retrying an activity that cannot succeed.
        assert world.checkout_keys, "the fuzz sent no checkout"
        assert retrying_sagas(stack, world.checkout_keys) == []


def retrying_sagas(stack: DevStack, checkout_keys: list[str]) -> list[tuple[str, str, int]]:
    """OrderWorkflows of these checkouts that are running an activity past its third try."""

    async def find() -> list[tuple[str, str, int]]:
        await asyncio.sleep(SAGA_SETTLE_SECONDS)
        temporal = await Client.connect(stack.env["TEMPORAL_ADDRESS"])
        found = []
        for key in checkout_keys:
            workflow_id = order_workflow_id(order_id_for_idempotency_key("platform", key))
            try:
                description = await temporal.get_workflow_handle(workflow_id).describe()
            except RPCError as error:
                assert error.status == RPCStatusCode.NOT_FOUND, error
                continue
            if description.status != WorkflowExecutionStatus.RUNNING:
                continue
            for pending in description.raw_description.pending_activities:
                if pending.attempt > 3:
                    found.append((workflow_id, pending.activity_type.name, pending.attempt))
        return found

    return asyncio.run(find())
