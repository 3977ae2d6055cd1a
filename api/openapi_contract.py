"""Which statuses and problem codes each route can answer: the one table the OpenAPI document
is written from (api/openapi_document.py).

Most of it is read from the route itself, so a new route is described without a change here:
- every route: 422 `validation_error` (the text guard reads every path, query and header) and
  503 `unavailable` (PostgreSQL, Redis or Temporal not answering, api/errors.py);
- an API key (the `_principal` dependency): 401; a role check (`require(...)`): 403;
- an id in the path: 404; a method that carries a body: 413 (api/body_limit.py); a JSON body:
  400 `bad_request` when it cannot be parsed at all;
- counted by the rate limiter (every path but the provider webhooks and health): 429;
- an `Idempotency-Key` taken: 422 `idempotency_key_reused`;
- waiting on Temporal (the `_temporal` dependency): 504 `timeout`.
What only a route's code knows (a conflict of state or stock, a declined card, a provider's
refusal through a workflow) is in EXTRA, by method and path. tests/unit/test_openapi_contract.py
reads the routes' source for every code they raise and fails on one not declared here;
tests/e2e/test_openapi_schemathesis.py holds real answers to the document.
`internal_error` (500) is never declared: it is a bug, and the tests fail on it.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from fastapi._compat import ModelField
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts

from api import deps
from api.auth import Role
from api.errors import STATUS_BY_CODE
from api.idempotency_routes import HEADER, OWN_KEYS, routes_of
from api.rate_limit import counted
from domain.errors import ErrorCode as E

BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
STRIPE_WEBHOOK = ("POST", "/v1/webhooks/stripe")
SHIPPO_WEBHOOK = ("POST", "/v1/webhooks/shippo")

# A saga's refusals that reach the caller through a workflow update (api/errors.py,
# from_update_failure): the change is refused for the vendor order's state, or a provider
# (Stripe refunding, Shippo selling a label) is down or refuses.
_MONEY_MOVES = {E.INVALID_STATE, E.PROVIDER_REJECTED, E.PROVIDER_UNAVAILABLE}

# (method, path) -> codes the route's own code (or the saga it waits on) can answer, beyond
# what the rules above give it.
EXTRA: dict[tuple[str, str], set[E]] = {
    ("POST", "/v1/orders"): {
        E.PAYMENT_DECLINED,
        E.INSUFFICIENT_STOCK,
        E.INVALID_STATE,
        E.PROVIDER_REJECTED,
        E.PROVIDER_UNAVAILABLE,
        # A line of a vendor that is not active (docs/listings.md), by the API or the saga.
        E.VENDOR_UNAVAILABLE,
    },
    ("POST", "/v1/orders/{order_id}/cancel"): _MONEY_MOVES,
    ("POST", "/v1/orders/{order_id}/returns"): {E.INVALID_STATE},
    # A label from a warehouse whose street address is not complete (docs/warehouse-addresses.md).
    ("POST", "/v1/vendor/orders/{vendor_order_id}/ship"): _MONEY_MOVES
    | {E.WAREHOUSE_ADDRESS_INCOMPLETE},
    ("POST", "/v1/vendor/orders/{vendor_order_id}/accept"): {E.INVALID_STATE},
    ("POST", "/v1/vendor/orders/{vendor_order_id}/reject"): _MONEY_MOVES | {E.INSUFFICIENT_STOCK},
    ("POST", "/v1/vendor/orders/{vendor_order_id}/deliver"): {E.INVALID_STATE},
    ("POST", "/v1/vendor/orders/{vendor_order_id}/returns/{return_id}/receive"): _MONEY_MOVES,
    # At most MOST_KEYS_PER_VENDOR live keys (stores/api_keys.py).
    ("POST", "/v1/vendor/keys"): {E.INVALID_STATE},
    ("DELETE", "/v1/vendor/keys/{key_id}"): {E.LAST_API_KEY},
    ("POST", "/v1/vendors"): {E.PROVIDER_UNAVAILABLE},
    ("POST", "/v1/products"): {E.NOT_FOUND, E.INVALID_STATE},
    ("PUT", "/v1/inventory/{sku}/{warehouse_id}"): {E.INVALID_STATE},
    ("POST", "/v1/inventory/{sku}/{warehouse_id}/adjustments"): {E.INVALID_STATE},
    ("POST", "/v1/ops/vendor-orders/{vendor_order_id}/refunds"): _MONEY_MOVES,
    ("POST", "/v1/ops/vendor-orders/{vendor_order_id}/reroute"): {
        E.INVALID_STATE,
        E.INSUFFICIENT_STOCK,
    },
    # Neither CSV nor JSON lines (docs/stock-feeds.md).
    ("POST", "/v1/inventory/feeds"): {E.UNSUPPORTED_MEDIA_TYPE},
    # A move the vendor lifecycle does not allow (domain/vendor_status.py).
    ("POST", "/v1/ops/vendors/{vendor_id}/activate"): {E.INVALID_STATE},
    ("POST", "/v1/ops/vendors/{vendor_id}/suspend"): {E.INVALID_STATE},
    ("POST", "/v1/webhook-endpoints/{endpoint_id}/deliveries/{delivery_id}/retry"): {
        E.INVALID_STATE
    },
    # Rotated again before the secret the last rotation replaced expired.
    ("POST", "/v1/webhook-endpoints/{endpoint_id}/rotate-secret"): {E.SECRET_ROTATION_IN_PROGRESS},
    STRIPE_WEBHOOK: {E.INVALID_SIGNATURE},
    # Shippo signs nothing: its secret token in the query is the credential.
    SHIPPO_WEBHOOK: {E.UNAUTHORIZED},
}


@dataclass(frozen=True)
class RouteFacts:
    """What the rules read from one route (one method of it)."""

    method: str
    path: str
    authenticated: bool
    # The roles allowed, when the route checks them; None: any valid key (or no key at all).
    roles: frozenset[Role] | None
    path_params: tuple[str, ...]
    # A JSON body FastAPI parses (not a webhook's raw bytes).
    takes_json: bool
    takes_key: bool
    waits_on_temporal: bool

    @property
    def counted(self) -> bool:
        return counted(self.path)


def operations(app: FastAPI) -> Iterator[tuple[APIRoute, str]]:
    """Every route of the document, once per method."""
    for context in iter_route_contexts(app.routes):
        route = context.route
        if isinstance(route, APIRoute) and route.include_in_schema:
            for method in sorted(route.methods or ()):
                yield route, method


def keyed_routes(app: FastAPI) -> frozenset[tuple[str, str]]:
    """(method, path) of the routes that take an Idempotency-Key."""
    found = {(r.method, r.path_format) for r in routes_of(app) if r.policy is not None}
    return frozenset(found | OWN_KEYS)


def facts_of(route: APIRoute, method: str, keyed: frozenset[tuple[str, str]]) -> RouteFacts:
    calls = list(_calls(route.dependant))
    roles: set[Role] = set()
    for call in calls:
        if getattr(call, "__qualname__", "") == f"{deps.require.__qualname__}.<locals>.check":
            roles |= set(inspect.getclosurevars(call).nonlocals["roles"])
    declares_key = any(p.alias.lower() == HEADER.lower() for p in _headers(route.dependant))
    return RouteFacts(
        method=method,
        path=route.path_format,
        authenticated=deps._principal in calls,
        roles=frozenset(roles) or None,
        path_params=tuple(p.name for p in route.dependant.path_params),
        takes_json=bool(route.dependant.body_params),
        takes_key=(method, route.path_format) in keyed or declares_key,
        waits_on_temporal=deps._temporal in calls,
    )


def problems_of(facts: RouteFacts) -> dict[int, set[E]]:
    """Status -> the problem codes this route can answer with it."""
    codes = {E.VALIDATION_ERROR, E.UNAVAILABLE}
    if facts.authenticated:
        codes.add(E.UNAUTHORIZED)
        if facts.roles is not None and facts.roles != set(Role):
            codes.add(E.FORBIDDEN)
    if facts.path_params:
        codes.add(E.NOT_FOUND)
    if facts.method in BODY_METHODS:
        codes.add(E.PAYLOAD_TOO_LARGE)
    if facts.takes_json:
        # Bytes that are not UTF-8, or JSON nested past the parser's depth: FastAPI's 400
        # (tests/unit/test_http_problems.py); JSON that parses but is wrong is 422.
        codes.add(E.BAD_REQUEST)
    if facts.counted:
        codes.add(E.RATE_LIMITED)
    if facts.takes_key:
        codes.add(E.IDEMPOTENCY_KEY_REUSED)
    if facts.waits_on_temporal:
        codes.add(E.TIMEOUT)
    codes |= EXTRA.get((facts.method, facts.path), set())
    by_status: dict[int, set[E]] = {}
    for code in codes:
        by_status.setdefault(STATUS_BY_CODE[code], set()).add(code)
    return by_status


def contract(app: FastAPI) -> dict[tuple[str, str], dict[int, set[E]]]:
    """(method, path) -> status -> codes, for every route of the document."""
    keyed = keyed_routes(app)
    return {
        (method, route.path_format): problems_of(facts_of(route, method, keyed))
        for route, method in operations(app)
    }


def _calls(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    for sub in dependant.dependencies:
        if sub.call is not None:
            yield sub.call
        yield from _calls(sub)


def _headers(dependant: Dependant) -> Iterator[ModelField]:
    yield from dependant.header_params
    for sub in dependant.dependencies:
        yield from _headers(sub)
