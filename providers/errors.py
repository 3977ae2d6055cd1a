"""Provider failures sorted once, by what the caller should do about them.

Activities turn these into Temporal ``ApplicationError``s (``non_retryable`` from
``retryable``); nothing here knows about Temporal.
"""

from __future__ import annotations

import json
from typing import Any

import requests
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
        # The provider answered with what it kept for this idempotency key (Stripe's
        # `Idempotent-Replayed`): a refusal from an earlier request, not a new decision.
        self.replayed = False


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


class IdempotencyConflictError(ProviderError):
    """The key was used before with other parameters: the first request may have moved money
    (a transfer made, its answer lost, then the amount changed). Never a refusal: the caller
    looks for what the first request made, and tries again with the same key until it knows."""

    retryable = True


def sort_stripe_error(exc: stripe.StripeError) -> ProviderError:
    sorted_error = _sort_stripe_error(exc)
    headers = exc.headers or {}
    replayed = headers.get("Idempotent-Replayed") or headers.get("idempotent-replayed")
    sorted_error.replayed = str(replayed).lower() == "true"
    return sorted_error


def _sort_stripe_error(exc: stripe.StripeError) -> ProviderError:
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
        return IdempotencyConflictError("idempotency_key_reused", message, http_status=status)
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


# --- Shippo ----------------------------------------------------------------------------------
# The Shippo SDK raises one SDKError for every non-2xx answer, and requests' own exceptions when
# no answer came; the status and the body tell the cases apart.


def sort_shippo_error(exc: Exception) -> ProviderError:
    """A Shippo failure sorted: no answer, 429 and 5xx are worth another try; other 4xx are
    final, with a stable code (``rate_not_found``, ``shippo_invalid_request``, ...)."""
    from shippo.models.errors import SDKError  # the SDK is heavy; only Shippo callers pay

    if isinstance(exc, requests.Timeout):
        return ProviderUnavailableError("timeout", f"Shippo did not answer in time: {exc}")
    if isinstance(exc, requests.RequestException):
        return ProviderUnavailableError("connection_failed", f"Shippo unreachable: {exc}")
    if not isinstance(exc, SDKError):
        return ProviderUnavailableError("shippo_error", f"{type(exc).__name__}: {exc}")
    status = exc.status_code
    field, message = _shippo_problem(exc.body)
    message = message or exc.message
    if status == 429:
        return ProviderUnavailableError("rate_limited", message, http_status=status)
    if status >= 500 or status in (408, 425):
        return ProviderUnavailableError("shippo_unavailable", message, http_status=status)
    if status < 400:
        # A 2xx the SDK could not take (an unexpected content type): a proxy or an outage page.
        return ProviderUnavailableError("unreadable_response", message, http_status=status)
    if status == 401:
        return ProviderRejectedError("shippo_unauthorized", message, http_status=status)
    if status == 403:
        return ProviderRejectedError("shippo_forbidden", message, http_status=status)
    if status == 404:
        return ProviderRejectedError("shippo_not_found", message, http_status=status)
    lowered = message.lower()
    if field == "rate" and ("not found" in lowered or "does not exist" in lowered):
        return ProviderRejectedError("rate_not_found", message, http_status=status, param=field)
    return ProviderRejectedError("shippo_invalid_request", message, http_status=status, param=field)


def _shippo_problem(body: str) -> tuple[str | None, str]:
    """The field at fault (if any) and a readable message from Shippo's error body, which is
    ``{"detail": "..."}`` or ``{"field": ["message", ...]}`` (nested for nested fields)."""
    try:
        parsed = json.loads(body) if body else None
    except ValueError:
        return None, body.strip()[:500]
    if not isinstance(parsed, dict) or not parsed:
        return None, str(parsed or "")[:500]
    if isinstance(parsed.get("detail"), str):
        return None, parsed["detail"]
    field, problem = next(iter(parsed.items()))
    return str(field), f"{field}: {_flatten(problem)}"


def _flatten(problem: Any) -> str:
    if isinstance(problem, list):
        return "; ".join(_flatten(item) for item in problem)
    if isinstance(problem, dict):
        return "; ".join(f"{key}: {_flatten(value)}" for key, value in problem.items())
    return str(problem)
