"""Turning failures into Temporal errors, in one place.

Business refusals (out of stock, declined card, invalid request) are non-retryable
ApplicationErrors whose `type` is the stable error code; the API maps that code to HTTP.
Anything else is left to Temporal's retry policy.
"""

from __future__ import annotations

from temporalio.exceptions import ApplicationError

from domain.errors import DomainError, ErrorCode
from providers.errors import PaymentDeclinedError, ProviderError


def business_error(error: DomainError) -> ApplicationError:
    return ApplicationError(error.detail, error.extra, type=str(error.code), non_retryable=True)


def provider_error(error: ProviderError) -> ApplicationError:
    if isinstance(error, PaymentDeclinedError):
        return ApplicationError(
            error.message or "the card was declined",
            {"decline_code": error.decline_code},
            type=ErrorCode.PAYMENT_DECLINED,
            non_retryable=True,
        )
    if error.retryable:
        # Retryable: Temporal runs the activity again, with the same idempotency key. A new
        # error, never the caught one: `raise error from error` would make its own cause.
        return ApplicationError(
            error.message, {"provider_code": error.code}, type=ErrorCode.PROVIDER_UNAVAILABLE
        )
    if error.code in _STATE_REFUSALS:
        # The money's state forbids it for now (a dispute is open): the caller's request is
        # sound, the order is not in a state to take it, and nothing changed.
        return ApplicationError(
            _STATE_REFUSALS[error.code],
            {"provider_code": error.code},
            type=ErrorCode.INVALID_STATE,
            non_retryable=True,
        )
    return ApplicationError(
        error.message,
        {"provider_code": error.code},
        type=ErrorCode.PROVIDER_REJECTED,
        non_retryable=True,
    )


_STATE_REFUSALS = {
    "charge_disputed": "the charge is disputed: no refund until the dispute is closed",
}
