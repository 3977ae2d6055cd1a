"""The shape of every error answer (application/problem+json, RFC 9457), as the OpenAPI
document declares it (api/openapi_document.py). api/errors.py renders these members; this
module only describes them, so the document and the answers cannot drift apart unnoticed
(tests/unit/test_openapi_contract.py renders problems and validates them against it).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from domain.errors import ErrorCode


class ValidationIssue(BaseModel):
    """One reason a request is not valid: where (`loc`, as FastAPI names it: `body`, `query`,
    `path` or `header`, then the field's path), what is wrong, and a machine-readable type."""

    loc: list[str | int]
    msg: str
    type: str


class ShortItem(BaseModel):
    """A SKU checkout could not get enough of."""

    model_config = ConfigDict(extra="allow")

    sku: str
    requested: int
    available: int


class Problem(BaseModel):
    """Every refusal and failure. `code` is stable and machine-readable (API.md, "Errors");
    `detail` is for people. Code-specific members sit beside them; new ones may be added, so
    clients ignore members they do not know."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "example": {
                "type": "about:blank",
                "title": "insufficient stock",
                "status": 409,
                "code": "insufficient_stock",
                "detail": "insufficient stock: BRAKE-01 (requested 2, available 1)",
                "items": [{"sku": "BRAKE-01", "requested": 2, "available": 1}],
            }
        },
    )

    type: str = Field(description="always `about:blank`: `code` says which problem it is")
    title: str = Field(description="the code in words")
    status: int = Field(description="the HTTP status of the answer", ge=400, le=599)
    code: ErrorCode
    detail: str = Field(description="what went wrong, for people")
    errors: list[ValidationIssue] | None = Field(
        default=None, description="`validation_error` of the request's shape: each reason"
    )
    items: list[ShortItem] | None = Field(
        default=None, description="`insufficient_stock`: each SKU short, and how short"
    )
    decline_code: str | None = Field(
        default=None, description="`payment_declined`: the card issuer's reason"
    )
    retry_after: int | None = Field(
        default=None, description="`rate_limited`, `unavailable`: seconds before trying again"
    )
    limit: int | None = Field(default=None, description="`rate_limited`: requests per window")
    max_bytes: int | None = Field(
        default=None, description="`payload_too_large`: the largest body this route takes"
    )
    current_status: str | None = Field(
        default=None, description="`invalid_state`: the status that forbids the change"
    )
    skus: list[str] | None = Field(
        default=None, description="`validation_error` of a checkout: unknown or foreign SKUs"
    )
    provider_code: str | None = Field(
        default=None, description="`provider_*`, some `invalid_state`: the provider's own code"
    )
    rule: str | None = Field(
        default=None, description="`validation_error` of a webhook URL: the rule it breaks"
    )
    on_hand: int | None = Field(
        default=None, description="`invalid_state` of a stock change: the level it would change"
    )
    reserved: int | None = Field(
        default=None, description="`invalid_state` of a stock change: the units held by orders"
    )
    refundable_cents: int | None = Field(
        default=None, description="`validation_error` of a refund: what is left to refund"
    )
    failing: list[str] | None = Field(
        default=None, description="`unavailable` from /healthz: the dependencies not answering"
    )


def problem_schemas() -> dict[str, Any]:
    """Problem and the models it names, as OpenAPI components."""
    schema = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    definitions: dict[str, Any] = schema.pop("$defs", {})
    return {**definitions, "Problem": schema}
