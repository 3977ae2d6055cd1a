"""The `Idempotency-Key` header in the OpenAPI document, on every route that replays its
answers (api/idempotency.py), so integrators see it where it works.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI

from api.idempotency_routes import HEADER, Policy, routes_of
from domain.idempotency import MAX_KEY_LENGTH

PARAMETER: dict[str, Any] = {
    "name": HEADER,
    "in": "header",
    "required": False,
    "schema": {"type": "string", "minLength": 1, "maxLength": MAX_KEY_LENGTH, "title": HEADER},
    "description": (
        "Optional. Sending the same request again with the same key answers the first answer"
        " again (status, body and headers, marked `Idempotent-Replayed: true`) for"
        " FULFILLMENT_IDEMPOTENCY_RETENTION (24 h by default); the same key with another"
        " request is 422 `idempotency_key_reused`; while the first is still running, a retry"
        " waits for it, or is 503 `unavailable` with Retry-After. Keys are per caller; 5xx"
        " and 429 answers are not kept."
    ),
}


# What a retry with the key means where it matters most (issue 9, item 13).
NOTES = {
    ("POST", "/v1/vendors"): (
        " Onboarding sent again with the same key answers the same vendor, API key and Stripe"
        " account, and opens no second account; without a key, a retry is a new vendor."
    ),
}


def document(app: FastAPI) -> None:
    """Have the app's OpenAPI document show the header on every route whose answers are
    replayed; routes that answer their own retries declare it themselves."""
    build: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = build()
        for route in routes_of(app):
            operation = schema.get("paths", {}).get(route.path_format, {}).get(route.method.lower())
            if operation is not None and route.policy is Policy.REPLAY:
                parameter = dict(PARAMETER)
                parameter["description"] += NOTES.get((route.method, route.path_format), "")
                operation.setdefault("parameters", []).append(parameter)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
