"""Every error leaves the API as application/problem+json with a stable `code` (API.md).

The one place codes become HTTP statuses: domain errors and workflow refusals carry the code,
this module only maps it.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError

from domain.errors import DomainError

log = logging.getLogger("fulfillment.api")

STATUS_BY_CODE = {
    "unauthorized": 401,
    "forbidden": 403,
    "not_found": 404,
    "validation_error": 422,
    "insufficient_stock": 409,
    "payment_declined": 402,
    "invalid_state": 409,
    "idempotency_key_reused": 422,
    "rate_limited": 429,
    "provider_rejected": 502,
    "invalid_signature": 400,
    "unavailable": 503,
    "timeout": 504,
    "internal_error": 500,
}
_CODE_BY_STATUS = {401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "not_found"}


class Problem(Exception):
    def __init__(self, code: str, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.code, self.detail, self.extra = code, detail, extra


def problem_response(code: str, detail: str, **extra: Any) -> JSONResponse:
    status = STATUS_BY_CODE.get(code, 500)
    # Code-specific fields never override the problem's own members.
    body = {
        **extra,
        "type": "about:blank",
        "title": code.replace("_", " "),
        "status": status,
        "code": code,
        "detail": detail,
    }
    response = JSONResponse(body, status_code=status, media_type="application/problem+json")
    if "retry_after" in extra:
        # Seconds: when the caller should send the same request again (503, 429).
        response.headers["Retry-After"] = str(extra["retry_after"])
    return response


def from_application_error(error: ApplicationError) -> Problem:
    extra = error.details[0] if error.details and isinstance(error.details[0], dict) else {}
    code = error.type if error.type in STATUS_BY_CODE else "internal_error"
    return Problem(code, error.message, **extra)


def from_update_failure(error: WorkflowUpdateFailedError) -> Problem:
    cause: BaseException | None = error.cause
    while cause is not None and not isinstance(cause, ApplicationError):
        cause = cause.__cause__
    if isinstance(cause, ApplicationError):
        return from_application_error(cause)
    return Problem("internal_error", "the workflow failed to apply the change")


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
        code = _CODE_BY_STATUS.get(exc.status_code, "internal_error")
        response = problem_response(code, str(exc.detail))
        response.status_code = exc.status_code
        return response

    @app.exception_handler(WorkflowAlreadyStartedError)
    async def _already(_: Request, exc: WorkflowAlreadyStartedError) -> JSONResponse:
        return problem_response("invalid_state", "this workflow already exists")

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        return problem_response("internal_error", "an unexpected error occurred")
