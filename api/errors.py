"""Every error leaves the API as application/problem+json with a stable `code` (API.md).

The one place codes become HTTP statuses: domain errors and workflow refusals carry the code,
this module only maps it. A problem's `status` is always the answer's HTTP status.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

import psycopg
import redis.exceptions
import sqlalchemy.exc
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from temporalio.client import WorkflowFailureError, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from domain.errors import DomainError

log = logging.getLogger("fulfillment.api")

STATUS_BY_CODE = {
    "bad_request": 400,
    "unauthorized": 401,
    "forbidden": 403,
    "not_found": 404,
    "method_not_allowed": 405,
    "payload_too_large": 413,
    "validation_error": 422,
    "insufficient_stock": 409,
    "payment_declined": 402,
    "invalid_state": 409,
    "idempotency_key_reused": 422,
    "rate_limited": 429,
    "provider_rejected": 502,
    "provider_unavailable": 503,
    "payout_failed": 502,
    "vendor_webhook_failed": 502,
    "vendor_webhook_url_invalid": 422,
    "vendor_webhook_url_forbidden": 422,
    "invalid_signature": 400,
    "unavailable": 503,
    "timeout": 504,
    "internal_error": 500,
}
# HTTP errors raised before any route runs (Starlette's, FastAPI's body parsing).
_CODE_BY_STATUS = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    422: "validation_error",
    429: "rate_limited",
    503: "unavailable",
    504: "timeout",
}
# How long a client should wait before trying again when a dependency is down.
RETRY_AFTER_SECONDS = 5
# Temporal answers these when it (or the way to it) is down or overloaded, not when the
# request is wrong.
_TEMPORAL_DOWN = frozenset(
    {RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED, RPCStatusCode.RESOURCE_EXHAUSTED}
)
# PostgreSQL unreachable, the connection lost, the pool exhausted, or the server refusing
# for now (shutting down, serialization failures): all are worth a retry, none is a bug.
DATABASE_DOWN: tuple[type[Exception], ...] = (
    sqlalchemy.exc.OperationalError,
    sqlalchemy.exc.InterfaceError,
    sqlalchemy.exc.TimeoutError,
    psycopg.OperationalError,
    psycopg.InterfaceError,
)
REDIS_DOWN: tuple[type[Exception], ...] = (
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
)


class Problem(Exception):
    def __init__(self, code: str, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.code, self.detail, self.extra = code, detail, extra


class ProblemResponse(JSONResponse):
    media_type = "application/problem+json"

    def render(self, content: Any) -> bytes:
        # Text echoed from a request may hold what UTF-8 cannot encode (a lone surrogate):
        # replaced, so an error about bad input never becomes a 500 itself.
        return json.dumps(
            content, ensure_ascii=False, allow_nan=False, separators=(",", ":")
        ).encode("utf-8", "replace")


def problem_response(code: str, detail: str, **extra: Any) -> JSONResponse:
    return _respond(code, detail, STATUS_BY_CODE.get(code, 500), extra)


def _respond(
    code: str,
    detail: str,
    status: int,
    extra: Mapping[str, Any],
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    # Code-specific fields never override the problem's own members.
    body = {
        **extra,
        "type": "about:blank",
        "title": code.replace("_", " "),
        "status": status,
        "code": code,
        "detail": detail,
    }
    all_headers = dict(headers or {})
    if status == 503:
        all_headers.setdefault("Retry-After", str(RETRY_AFTER_SECONDS))
    return ProblemResponse(body, status_code=status, headers=all_headers)


def from_application_error(error: ApplicationError) -> Problem:
    extra = error.details[0] if error.details and isinstance(error.details[0], dict) else {}
    code = error.type if error.type in STATUS_BY_CODE else "internal_error"
    return Problem(code, error.message, **extra)


def from_update_failure(error: WorkflowUpdateFailedError | WorkflowFailureError) -> Problem:
    """The refusal a workflow's activity or handler raised, as the API's problem."""
    cause: BaseException | None = error.cause
    while cause is not None and not isinstance(cause, ApplicationError):
        cause = cause.__cause__
    if isinstance(cause, ApplicationError):
        return from_application_error(cause)
    return Problem("internal_error", "the workflow failed to apply the change")


def _unavailable(what: str, exc: Exception) -> JSONResponse:
    log.warning("%s is not answering: %s: %s", what, type(exc).__name__, exc)
    return problem_response(
        "unavailable",
        f"{what} is not answering; retry in a few seconds",
        retry_after=RETRY_AFTER_SECONDS,
    )


def install(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def _problem(_: Request, exc: Problem) -> JSONResponse:
        return problem_response(exc.code, exc.detail, **exc.extra)

    @app.exception_handler(DomainError)
    async def _domain(_: Request, exc: DomainError) -> JSONResponse:
        return problem_response(str(exc.code), exc.detail, **dict(exc.extra))

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
            for e in exc.errors()
        ]
        return problem_response("validation_error", "the request is not valid", errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        status = exc.status_code
        code = _CODE_BY_STATUS.get(status, "internal_error" if status >= 500 else "bad_request")
        # The HTTP status stays what Starlette chose; the problem says the same.
        return _respond(code, str(exc.detail), status, {}, exc.headers)

    @app.exception_handler(WorkflowAlreadyStartedError)
    async def _already(_: Request, exc: WorkflowAlreadyStartedError) -> JSONResponse:
        return problem_response("invalid_state", "this workflow already exists")

    # Handled here, not by the catch-all below: Starlette's last-resort handler re-raises,
    # and the server then drops the connection after the 500.
    for database_error in DATABASE_DOWN:

        @app.exception_handler(database_error)
        async def _database_down(_: Request, exc: Exception) -> JSONResponse:
            return _unavailable("the database", exc)

    for redis_error in REDIS_DOWN:

        @app.exception_handler(redis_error)
        async def _redis_down(_: Request, exc: Exception) -> JSONResponse:
            return _unavailable("Redis", exc)

    @app.exception_handler(RPCError)
    async def _temporal(_: Request, exc: RPCError) -> JSONResponse:
        if exc.status in _TEMPORAL_DOWN:
            return _unavailable("Temporal", exc)
        log.error("Temporal refused a request", exc_info=exc)
        return problem_response("internal_error", "an unexpected error occurred")

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        return problem_response("internal_error", "an unexpected error occurred")
