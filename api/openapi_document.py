"""The OpenAPI document, completed from one table (api/openapi_contract.py): every status each
route can answer, each error as application/problem+json with the `Problem` schema (its `code`
narrowed to the codes that route answers with that status), the headers of rate limits and
retries, who may call it, and examples. FastAPI writes the rest from the routes.

Installed by create_app after every router: a custom `app.openapi` that post-processes
FastAPI's (and the Idempotency-Key's, api/idempotency_openapi.py) once, then caches it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI

from api import openapi_examples as examples
from api.auth import Role
from api.openapi_contract import (
    SHIPPO_WEBHOOK,
    STRIPE_WEBHOOK,
    RouteFacts,
    facts_of,
    keyed_routes,
    operations,
    problems_of,
)
from models.problem import problem_schemas

PROBLEM_JSON = "application/problem+json"
BEARER = "HTTPBearer"
STRIPE_SIGNATURE = "stripeSignature"
SHIPPO_TOKEN = "shippoToken"
# FastAPI's own 422 shapes: the API never answers them (api/errors.py renders a Problem).
FASTAPI_422 = ("HTTPValidationError", "ValidationError")
# In the order a caller is most likely to hold the key: the first is the one examples use.
ROLE_ORDER = (Role.PLATFORM, Role.OPS, Role.VENDOR)

SECURITY_SCHEMES: dict[str, Any] = {
    BEARER: {
        "type": "http",
        "scheme": "bearer",
        "description": (
            "`Authorization: Bearer <key>`. A key has one role: `platform` (the storefront;"
            " FULFILLMENT_PLATFORM_KEY), `ops` (operators; FULFILLMENT_OPS_KEY) or `vendor` (one"
            " per vendor, minted by POST /v1/vendors and POST /v1/vendor/keys). Each operation"
            " lists the roles it takes in its security requirement and in `x-roles`; another"
            " role is 403 `forbidden`, no or an unknown key 401 `unauthorized`."
        ),
    },
    STRIPE_SIGNATURE: {
        "type": "apiKey",
        "in": "header",
        "name": "Stripe-Signature",
        "description": "Stripe's signature of the raw body with STRIPE_WEBHOOK_SECRET; "
        "unsigned, tampered or stale (over 300 s) is 400 `invalid_signature`",
    },
    SHIPPO_TOKEN: {
        "type": "apiKey",
        "in": "query",
        "name": "token",
        "description": "the secret SHIPPO_WEBHOOK_TOKEN in the webhook's URL (Shippo signs "
        "nothing); a wrong one is 401 `unauthorized`",
    },
}

_INTEGER = {"type": "integer", "minimum": 0}
HEADERS: dict[str, Any] = {
    "Retry-After": {"description": "seconds to wait before trying again", "schema": _INTEGER},
    "RateLimit-Limit": {"description": "requests this key may make per window", "schema": _INTEGER},
    "RateLimit-Remaining": {"description": "requests left in the window", "schema": _INTEGER},
    "RateLimit-Reset": {
        "description": "seconds until the window frees a request",
        "schema": _INTEGER,
    },
    "RateLimit-Policy": {
        "description": "the limit and its window, `<limit>;w=<seconds>`",
        "schema": {"type": "string"},
    },
}
RATE_LIMIT_HEADERS = (
    "RateLimit-Limit",
    "RateLimit-Remaining",
    "RateLimit-Reset",
    "RateLimit-Policy",
)


def install(app: FastAPI) -> None:
    build: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = build()
        complete(app, schema)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def complete(app: FastAPI, schema: dict[str, Any]) -> None:
    components = schema.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    for name in FASTAPI_422:
        schemas.pop(name, None)
    schemas.update(problem_schemas())
    components["securitySchemes"] = SECURITY_SCHEMES
    components["headers"] = HEADERS
    keyed = keyed_routes(app)
    for route, method in operations(app):
        operation = schema["paths"][route.path_format][method.lower()]
        facts = facts_of(route, method, keyed)
        _declare_problems(operation, facts)
        _declare_security(operation, facts)
        _declare_headers(operation, facts)
        examples.add_to(operation, method, route.path_format)


def _declare_problems(operation: dict[str, Any], facts: RouteFacts) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    for status, codes in sorted(problems_of(facts).items()):
        ordered = sorted(codes)
        responses[str(status)] = {
            "description": "; ".join(f"`{code}`: {examples.MEANING[code]}" for code in ordered),
            "content": {
                PROBLEM_JSON: {
                    "schema": {
                        "allOf": [
                            {"$ref": "#/components/schemas/Problem"},
                            {
                                "properties": {
                                    "status": {"const": status},
                                    "code": {"enum": [str(code) for code in ordered]},
                                }
                            },
                        ]
                    },
                    "examples": {
                        str(code): {"value": examples.problem(code, status)} for code in ordered
                    },
                }
            },
        }
    # A stream answers events, never a JSON 200.
    success = responses.get("200", {}).get("content", {})
    if "text/event-stream" in success:
        success.pop("application/json", None)
        success["text/event-stream"].setdefault("schema", {"type": "string"})


def _declare_security(operation: dict[str, Any], facts: RouteFacts) -> None:
    if facts.authenticated:
        roles = [str(role) for role in ROLE_ORDER if facts.roles is None or role in facts.roles]
        # OpenAPI 3.1: a non-OAuth requirement may list the roles it needs.
        operation["security"] = [{BEARER: roles}]
        operation["x-roles"] = roles
        operation["description"] = (
            f"Roles: {', '.join(roles)}.\n\n" + operation.get("description", "")
        ).strip()
    elif (facts.method, facts.path) == STRIPE_WEBHOOK:
        operation["security"] = [{STRIPE_SIGNATURE: []}]
    elif (facts.method, facts.path) == SHIPPO_WEBHOOK:
        operation["security"] = [{SHIPPO_TOKEN: []}]
    else:
        operation["security"] = []


def _declare_headers(operation: dict[str, Any], facts: RouteFacts) -> None:
    for status, response in operation["responses"].items():
        names: list[str] = list(RATE_LIMIT_HEADERS) if facts.counted else []
        if status in ("429", "503"):
            names.append("Retry-After")
        if names:
            headers = response.setdefault("headers", {})
            for name in names:
                headers[name] = {"$ref": f"#/components/headers/{name}"}
