"""The OpenAPI document declares every problem the code can answer (docs/openapi.md).

Its statuses and codes come from one table (api/openapi_contract.py); here the routes' own
source is read for every code they raise (tests/unit/problem_scan.py) and each must be
declared on that route with its status, as must every code of the middleware in front of it.
The document is valid OpenAPI 3.1, its examples conform to their schemas, and the 422 it
declares is the problem the API really renders. Real answers are held to it by
tests/e2e/test_openapi_schemathesis.py.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate
from starlette.requests import Request

from api import body_limit, checkout_lane, idempotency, openapi_examples, rate_limit, text_guard
from api.app import create_app
from api.errors import STATUS_BY_CODE, Problem
from api.openapi_contract import (
    BODY_METHODS,
    RouteFacts,
    contract,
    facts_of,
    keyed_routes,
    operations,
)
from domain.errors import ErrorCode
from models.settings import Settings
from tests.unit.problem_scan import module_codes, route_codes

APP = create_app(Settings())
DOCUMENT = APP.openapi()
CONTRACT = contract(APP)
# A bug by definition (the catch-all handler): declared nowhere, and the e2e checks fail on it.
UNDECLARED = {ErrorCode.INTERNAL_ERROR}
# Codes the scan finds on a path the route never takes, and why (declaring them would tell
# integrators of answers that cannot come).
UNREACHABLE: dict[tuple[str, str], dict[ErrorCode, str]] = {
    ("GET", "/v1/ops/orders"): {
        ErrorCode.NOT_FOUND: "order_view of ids just listed: orders are never deleted"
    },
    ("POST", "/v1/orders"): {
        ErrorCode.NOT_FOUND: "order_view of the order the saga has just recorded"
    },
    ("GET", "/v1/orders"): {
        ErrorCode.NOT_FOUND: "order_view of ids just listed: orders are never deleted"
    },
    ("POST", "/v1/inventory/feeds"): {
        ErrorCode.NOT_FOUND: "the view of the feed just written (or found) under the lock"
    },
    ("POST", "/v1/vendor/keys"): {
        ErrorCode.NOT_FOUND: "the calling vendor's row (its key was just found): never deleted"
    },
    ("POST", "/v1/webhooks/shippo"): {
        ErrorCode.INVALID_STATE: "caught in _deliver: settled is a success, else 503 to retry"
    },
}
# Each middleware, and the routes it stands in front of.
MIDDLEWARE: dict[ModuleType, Callable[[RouteFacts], bool]] = {
    rate_limit: lambda facts: facts.counted,
    body_limit: lambda facts: facts.method in BODY_METHODS,
    text_guard: lambda facts: True,
    idempotency: lambda facts: facts.takes_key,
    checkout_lane: lambda facts: (facts.method, facts.path) == ("POST", "/v1/orders"),
}


def undeclared(app: FastAPI) -> dict[str, list[str]]:
    """Route -> codes its source raises that its contract does not declare."""
    declared = contract(app)
    missing: dict[str, list[str]] = {}
    for route, method in operations(app):
        statuses = declared[(method, route.path_format)]
        unreachable = set(UNREACHABLE.get((method, route.path_format), {}))
        for code in route_codes(route) - UNDECLARED - unreachable:
            if code not in statuses.get(STATUS_BY_CODE[code], set()):
                missing.setdefault(f"{method} {route.path_format}", []).append(str(code))
    return missing


def test_the_document_is_valid_openapi_3_1() -> None:
    assert DOCUMENT["openapi"].startswith("3.1.")
    validate(DOCUMENT)


def test_every_code_a_route_raises_is_declared_on_it_with_its_status() -> None:
    assert undeclared(APP) == {}


def test_the_scan_finds_codes_through_dependencies_helpers_and_stores() -> None:
    by_route = {(m, r.path_format): route_codes(r) for r, m in operations(APP)}
    # In the endpoint, in a dependency (auth, roles), in a helper of api/, in stores/.
    assert ErrorCode.INVALID_STATE in by_route[("POST", "/v1/products")]
    assert {ErrorCode.UNAUTHORIZED, ErrorCode.FORBIDDEN} <= by_route[("GET", "/v1/vendor/keys")]
    assert ErrorCode.TIMEOUT in by_route[("POST", "/v1/vendor/orders/{vendor_order_id}/ship")]
    assert ErrorCode.LAST_API_KEY in by_route[("DELETE", "/v1/vendor/keys/{key_id}")]
    assert ErrorCode.INSUFFICIENT_STOCK in by_route[("POST", "/v1/orders")]


def test_a_route_that_starts_raising_an_undeclared_code_is_caught() -> None:
    app = create_app(Settings())

    @app.get("/v1/things/{thing_id}")
    async def thing(thing_id: str) -> None:
        raise Problem(ErrorCode.LAST_API_KEY, "a code no rule gives this route")

    assert undeclared(app) == {"GET /v1/things/{thing_id}": ["last_api_key"]}


@pytest.mark.parametrize("module", list(MIDDLEWARE), ids=lambda m: m.__name__)
def test_every_code_a_middleware_answers_is_declared_on_the_routes_behind_it(
    module: ModuleType,
) -> None:
    codes = module_codes(module) - UNDECLARED
    assert codes, "the scan found nothing: it would pass by finding nothing"
    keyed = keyed_routes(APP)
    for route, method in operations(APP):
        facts = facts_of(route, method, keyed)
        if not MIDDLEWARE[module](facts):
            continue
        statuses = CONTRACT[(method, route.path_format)]
        missing = [c for c in codes if c not in statuses.get(STATUS_BY_CODE[c], set())]
        assert missing == [], (method, route.path_format)


def test_problem_codes_are_an_enum_of_every_error_code() -> None:
    schemas = DOCUMENT["components"]["schemas"]
    assert schemas["Problem"]["properties"]["code"] == {"$ref": "#/components/schemas/ErrorCode"}
    assert sorted(schemas["ErrorCode"]["enum"]) == sorted(str(code) for code in ErrorCode)
    # FastAPI's own 422 shape is gone: the API never answers it.
    assert "HTTPValidationError" not in schemas


def test_every_error_is_declared_as_problem_json_narrowed_to_its_codes() -> None:
    for (method, path), statuses in CONTRACT.items():
        responses = DOCUMENT["paths"][path][method.lower()]["responses"]
        for status, codes in statuses.items():
            media = responses[str(status)]["content"]
            assert list(media) == ["application/problem+json"], (method, path, status)
            narrowed = media["application/problem+json"]["schema"]["allOf"][1]["properties"]
            assert narrowed["code"]["enum"] == sorted(str(code) for code in codes)
            assert narrowed["status"] == {"const": status}


def test_the_declared_422_is_the_problem_the_api_renders_for_a_bad_request() -> None:
    handler = APP.exception_handlers[RequestValidationError]
    error = RequestValidationError(
        [{"loc": ("body", "lines", 0, "quantity"), "msg": "too small", "type": "greater_than"}]
    )

    async def render() -> Any:
        return await handler(Request({"type": "http", "headers": []}), error)  # type: ignore[arg-type]

    answer = asyncio.run(render())
    body = json.loads(answer.body)
    schema = DOCUMENT["paths"]["/v1/orders"]["post"]["responses"]["422"]["content"][
        "application/problem+json"
    ]["schema"]
    assert errors_against(schema, body) == []
    assert body["errors"] == [
        {"loc": ["body", "lines", 0, "quantity"], "msg": "too small", "type": "greater_than"}
    ]


def test_every_example_conforms_to_its_schema() -> None:
    checked = 0
    for where, schema, value in _examples():
        assert errors_against(schema, value) == [], where
        checked += 1
    # Checkout, order, vendor order, ship and at least one problem per code.
    assert checked > len(ErrorCode) + 5


def test_each_route_says_which_roles_may_call_it_and_webhooks_their_own_credential() -> None:
    def security(method: str, path: str) -> Any:
        return DOCUMENT["paths"][path][method]["security"]

    assert security("post", "/v1/orders") == [{"HTTPBearer": ["platform"]}]
    assert security("get", "/v1/orders/{order_id}") == [{"HTTPBearer": ["platform", "ops"]}]
    assert security("get", "/v1/vendor/orders") == [{"HTTPBearer": ["vendor"]}]
    assert security("get", "/v1/products/{sku}") == [{"HTTPBearer": ["platform", "ops", "vendor"]}]
    assert security("post", "/v1/webhooks/stripe") == [{"stripeSignature": []}]
    assert security("post", "/v1/webhooks/shippo") == [{"shippoToken": []}]
    assert security("get", "/healthz") == []
    # No key is 401 everywhere a key is taken; a role that may not is 403 only where one can't.
    assert "403" not in DOCUMENT["paths"]["/v1/products/{sku}"]["get"]["responses"]
    assert "403" in DOCUMENT["paths"]["/v1/orders"]["post"]["responses"]


def test_rate_limited_answers_declare_retry_after_and_the_ratelimit_headers() -> None:
    responses = DOCUMENT["paths"]["/v1/orders"]["post"]["responses"]
    assert set(responses["429"]["headers"]) == {
        "Retry-After",
        "RateLimit-Limit",
        "RateLimit-Remaining",
        "RateLimit-Reset",
        "RateLimit-Policy",
    }
    assert "Retry-After" in responses["503"]["headers"]
    assert "RateLimit-Limit" in responses["201"]["headers"]
    # Provider webhooks spend no platform key's budget: never 429.
    assert "429" not in DOCUMENT["paths"]["/v1/webhooks/stripe"]["post"]["responses"]


def errors_against(schema: dict[str, Any], value: Any) -> list[str]:
    """JSON Schema 2020-12 errors of `value`, with the document's components to resolve."""
    root = {**schema, "components": DOCUMENT["components"]}
    return [error.message for error in Draft202012Validator(root).iter_errors(value)]


def _examples() -> Iterator[tuple[str, dict[str, Any], Any]]:
    for path, operations_ in DOCUMENT["paths"].items():
        for method, operation in operations_.items():
            media_types = [("request", operation.get("requestBody", {}).get("content", {}))]
            media_types += [(s, r.get("content", {})) for s, r in operation["responses"].items()]
            for where, content in media_types:
                for media in content.values():
                    for name, example in media.get("examples", {}).items():
                        label = f"{method} {path} {where} {name}"
                        yield label, media["schema"], example["value"]


def test_every_code_has_a_meaning_and_an_example_problem_with_its_status() -> None:
    assert set(openapi_examples.MEANING) == set(ErrorCode)
    for code in ErrorCode:
        example = openapi_examples.problem(code, STATUS_BY_CODE[code])
        assert (example["code"], example["status"]) == (code, STATUS_BY_CODE[code])


def test_every_route_with_a_json_body_declares_the_400_of_a_body_that_cannot_be_parsed() -> None:
    """Found undeclared by schemathesis: bytes that are not UTF-8 are FastAPI's 400."""
    with_bodies = [
        (method, path)
        for path, operations_ in DOCUMENT["paths"].items()
        for method, operation in operations_.items()
        # JSON bodies only: a stock feed's CSV or JSON lines are read by the route itself.
        if "application/json" in operation.get("requestBody", {}).get("content", {})
    ]
    assert ("post", "/v1/orders") in with_bodies
    for method, path in with_bodies:
        codes = CONTRACT[(method.upper(), path)].get(400, set())
        assert ErrorCode.BAD_REQUEST in codes, (method, path)
