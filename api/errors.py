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

from domain.errors import DomainError, ErrorCode

log = logging.getLogger("fulfillment.api")

# The one table from code to HTTP status: every ErrorCode is in it (tests/unit/test_error_codes.py).
STATUS_BY_CODE: dict[ErrorCode, int] = {
    ErrorCode.BAD_REQUEST: 400,
    ErrorCode.UNAUTHORIZED: 401,
    ErrorCode.FORBIDDEN: 403,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.METHOD_NOT_ALLOWED: 405,
    ErrorCode.PAYLOAD_TOO_LARGE: 413,
    ErrorCode.UNSUPPORTED_MEDIA_TYPE: 415,
    ErrorCode.VALIDATION_ERROR: 422,
    ErrorCode.INSUFFICIENT_STOCK: 409,
    ErrorCode.PAYMENT_DECLINED: 402,
    ErrorCode.INVALID_STATE: 409,
    ErrorCode.VENDOR_UNAVAILABLE: 409,
    ErrorCode.LAST_API_KEY: 409,
    ErrorCode.WAREHOUSE_ADDRESS_INCOMPLETE: 409,
    ErrorCode.SECRET_ROTATION_IN_PROGRESS: 409,
    ErrorCode.IDEMPOTENCY_KEY_REUSED: 422,
    ErrorCode.RATE_LIMITED: 429,
    ErrorCode.PROVIDER_REJECTED: 502,
    ErrorCode.PROVIDER_UNAVAILABLE: 503,
    ErrorCode.PAYOUT_FAILED: 502,
    ErrorCode.VENDOR_WEBHOOK_FAILED: 502,
    ErrorCode.VENDOR_WEBHOOK_URL_INVALID: 422,
    ErrorCode.VENDOR_WEBHOOK_URL_FORBIDDEN: 422,
    ErrorCode.INVALID_SIGNATURE: 400,
    ErrorCode.UNAVAILABLE: 503,
    ErrorCode.TIMEOUT: 504,
    ErrorCode.INTERNAL_ERROR: 500,
}
# HTTP errors raised before any route runs (Starlette's, FastAPI's body parsing).
_CODE_BY_STATUS: dict[int, ErrorCode] = {
    400: ErrorCode.BAD_REQUEST,
    401: ErrorCode.UNAUTHORIZED,
    403: ErrorCode.FORBIDDEN,
    404: ErrorCode.NOT_FOUND,
    405: ErrorCode.METHOD_NOT_ALLOWED,
    413: ErrorCode.PAYLOAD_TOO_LARGE,
    415: ErrorCode.UNSUPPORTED_MEDIA_TYPE,
    422: ErrorCode.VALIDATION_ERROR,
    429: ErrorCode.RATE_LIMITED,
    503: ErrorCode.UNAVAILABLE,
    504: ErrorCode.TIMEOUT,
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
    def __init__(self, code: ErrorCode, detail: str, **extra: Any) -> None:
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


def problem_response(code: ErrorCode, detail: str, **extra: Any) -> JSONResponse:
    return _respond(code, detail, STATUS_BY_CODE[code], extra)


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
    try:
        code = ErrorCode(error.type or "")
    except ValueError:  # not ours to explain (a bug, or an SDK's own type): a 500
        code = ErrorCode.INTERNAL_ERROR
    return Problem(code, error.message, **extra)


def from_update_failure(error: WorkflowUpdateFailedError | WorkflowFailureError) -> Problem:
    """The refusal a workflow's activity or handler raised, as the API's problem."""
    cause: BaseException | None = error.cause
    while cause is not None and not isinstance(cause, ApplicationError):
        cause = cause.__cause__
    if isinstance(cause, ApplicationError):
        return from_application_error(cause)
    return Problem(ErrorCode.INTERNAL_ERROR, "the workflow failed to apply the change")


def _unavailable(what: str, exc: Exception) -> JSONResponse:
    log.warning("%s is not answering: %s: %s", what, type(exc).__name__, exc)
    return problem_response(
        ErrorCode.UNAVAILABLE,
        f"{what} is not answering; retry in a few seconds",
        retry_after=RETRY_AFTER_SECONDS,
    )


def install(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def _problem(_: Request, exc: Problem) -> JSONResponse:
        return problem_response(exc.code, exc.detail, **exc.extra)

    @app.exception_handler(DomainError)
    async def _domain(_: Request, exc: DomainError) -> JSONResponse:
        return problem_response(exc.code, exc.detail, **dict(exc.extra))

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
            for e in exc.errors()
        ]
        return problem_response(
            ErrorCode.VALIDATION_ERROR, "the request is not valid", errors=errors
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        status = exc.status_code
        code = _CODE_BY_STATUS.get(
            status, ErrorCode.INTERNAL_ERROR if status >= 500 else ErrorCode.BAD_REQUEST
        )
        # The HTTP status stays what Starlette chose; the problem says the same.
        return _respond(code, str(exc.detail), status, {}, exc.headers)

    @app.exception_handler(WorkflowAlreadyStartedError)
    async def _already(_: Request, exc: WorkflowAlreadyStartedError) -> JSONResponse:
        return problem_response(ErrorCode.INVALID_STATE, "this workflow already exists")

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
        return problem_response(ErrorCode.INTERNAL_ERROR, "an unexpected error occurred")

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        return problem_response(ErrorCode.INTERNAL_ERROR, "an unexpected error occurred")
