"""Provider failures sorted once, by what the caller should do about them.

Activities turn these into Temporal ``ApplicationError``s (``non_retryable`` from
``retryable``); nothing here knows about Temporal.
"""

from __future__ import annotations

from typing import Any

import stripe

# A payout's destination that cannot take it: missing, restricted or closed. Stripe names these
# cases in several ways; the caller needs one code to flag the payout and wait for a fix.
ACCOUNT_INVALID = "account_invalid"
_UNPAYABLE_ACCOUNT = frozenset(
    {"account_invalid", "account_closed", "insufficient_capabilities_for_transfer"}
)


class ProviderError(Exception):
    """A call to an outside service failed; ``code`` is stable and machine-readable."""

    retryable: bool = False

    def __init__(
        self,
        code: str,
        message: str,
        *,
        http_status: int | None = None,
        param: str | None = None,
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.http_status = http_status
        self.param = param


class PaymentDeclinedError(ProviderError):
    """The card was refused: final for this payment method, the customer must act."""

    retryable = False

    def __init__(
        self,
        code: str,
        message: str,
        *,
        decline_code: str,
        payment_intent_id: str | None = None,
        charge_id: str | None = None,
        http_status: int | None = None,
    ) -> None:
        super().__init__(code, message, http_status=http_status)
        self.decline_code = decline_code
        self.payment_intent_id = payment_intent_id
        self.charge_id = charge_id


class ProviderRejectedError(ProviderError):
    """The provider refused the request itself; sending it again cannot help."""

    retryable = False


class ProviderUnavailableError(ProviderError):
    """The provider could not answer; the same request with the same key may succeed later."""

    retryable = True


def sort_stripe_error(exc: stripe.StripeError) -> ProviderError:
    status = exc.http_status
    message = exc.user_message or str(exc) or type(exc).__name__
    if isinstance(exc, stripe.CardError):
        error = _error_body(exc)
        code = exc.code or "card_declined"
        intent = error.get("payment_intent")
        return PaymentDeclinedError(
            code,
            message,
            decline_code=error.get("decline_code") or code,
            payment_intent_id=intent.get("id") if isinstance(intent, dict) else intent,
            charge_id=error.get("charge"),
            http_status=status,
        )
    if isinstance(exc, stripe.IdempotencyError):
        return ProviderRejectedError(exc.code or "idempotency_error", message, http_status=status)
    if isinstance(exc, stripe.InvalidRequestError):
        code = exc.code or "invalid_request"
        missing_destination = code == "resource_missing" and exc.param == "destination"
        if code in _UNPAYABLE_ACCOUNT or missing_destination:
            code = ACCOUNT_INVALID
        return ProviderRejectedError(code, message, http_status=status, param=exc.param)
    if isinstance(exc, stripe.AuthenticationError):
        return ProviderRejectedError("authentication_failed", message, http_status=status)
    if isinstance(exc, stripe.PermissionError):
        return ProviderRejectedError("permission_denied", message, http_status=status)
    if isinstance(exc, stripe.RateLimitError):
        return ProviderUnavailableError("rate_limited", message, http_status=status)
    if isinstance(exc, stripe.APIConnectionError):
        return ProviderUnavailableError("connection_failed", message, http_status=status)
    # What is left (APIError and the rarer kinds) is judged by its status: 5xx, a 409
    # conflict on a key still in use, or no answer at all are worth the same request again.
    if status is None or status >= 500 or status == 409:
        return ProviderUnavailableError(exc.code or "provider_error", message, http_status=status)
    return ProviderRejectedError(exc.code or "provider_error", message, http_status=status)


def _error_body(exc: stripe.StripeError) -> dict[str, Any]:
    body = exc.json_body
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        return body["error"]
    return {}
