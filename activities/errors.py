"""Turning failures into Temporal errors, in one place.

Business refusals (out of stock, declined card, invalid request) are non-retryable
ApplicationErrors whose `type` is the stable error code; the API maps that code to HTTP.
Anything else is left to Temporal's retry policy.
"""

from __future__ import annotations

from temporalio.exceptions import ApplicationError

from domain.errors import DomainError
from providers.errors import PaymentDeclinedError, ProviderError


def business_error(error: DomainError) -> ApplicationError:
    return ApplicationError(error.detail, error.extra, type=str(error.code), non_retryable=True)


def provider_error(error: ProviderError) -> ApplicationError:
    if isinstance(error, PaymentDeclinedError):
        return ApplicationError(
            error.message or "the card was declined",
            {"decline_code": error.decline_code},
            type="payment_declined",
            non_retryable=True,
        )
    if error.retryable:
        # Retryable: Temporal runs the activity again, with the same idempotency key. A new
        # error, never the caught one: `raise error from error` would make its own cause.
        return ApplicationError(
            error.message, {"provider_code": error.code}, type="provider_unavailable"
        )
    return ApplicationError(
        error.message, {"provider_code": error.code}, type="provider_rejected", non_retryable=True
    )
