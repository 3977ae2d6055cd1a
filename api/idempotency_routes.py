"""Which routes take an `Idempotency-Key`, and what the key does on each (api/idempotency.py):
replay the first answer, or, on a route that answers its own retries, only bind the key to its
first request. Provider webhooks and checkout are left out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.routing import compile_path

HEADER = "Idempotency-Key"
MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Checkout keys its order by the key itself (domain.ids.order_id_for_idempotency_key).
OWN_KEYS = frozenset({("POST", "/v1/orders")})
WEBHOOKS = "/v1/webhooks/"


class Policy(Enum):
    REPLAY = "replay"  # keep the answer and give it to every retry
    BIND = "bind"  # the route answers its retries itself: only refuse another request


@dataclass(frozen=True)
class Route:
    method: str
    path_format: str
    pattern: re.Pattern[str]
    policy: Policy | None


def routes_of(app: FastAPI) -> list[Route]:
    """The app's mutating routes, in the order FastAPI tries them, with their policy."""
    found: list[Route] = []
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if not isinstance(route, APIRoute) or context.path_format is None:
            continue
        pattern, path_format, _ = compile_path(context.path_format)
        for method in sorted((context.methods or set()) & MUTATING):
            found.append(Route(method, path_format, pattern, _policy(route, method, path_format)))
    return found


def _policy(route: APIRoute, method: str, path_format: str) -> Policy | None:
    if not path_format.startswith("/v1/") or path_format.startswith(WEBHOOKS):
        return None
    if (method, path_format) in OWN_KEYS:
        return None
    return Policy.BIND if _declares_key(route.dependant) else Policy.REPLAY


def _declares_key(dependant: Dependant) -> bool:
    if any(field.alias.lower() == HEADER.lower() for field in dependant.header_params):
        return True
    return any(_declares_key(sub) for sub in dependant.dependencies)
