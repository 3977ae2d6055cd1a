"""Domain errors with stable, machine-readable codes.

The API maps each code to an HTTP status in one place; the domain never imports API code.
Code-specific fields travel in ``extra`` so they can be rendered next to ``code`` and
``detail`` in a problem document.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Any


class ErrorCode(StrEnum):
    """Every code a caller can meet: a Problem's `code`, an ApplicationError's `type`.

    api/errors.py maps each to one HTTP status (tests/unit/test_error_codes.py holds the two
    together and checks that no code is raised that is not listed here)."""

    # The caller's request.
    BAD_REQUEST = "bad_request"  # HTTP-level refusals before any route runs
    UNAUTHORIZED = "unauthorized"
    FORBIDDEN = "forbidden"
    NOT_FOUND = "not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"  # a body in a format the route does not read
    VALIDATION_ERROR = "validation_error"
    IDEMPOTENCY_KEY_REUSED = "idempotency_key_reused"
    RATE_LIMITED = "rate_limited"
    # The business refusing.
    INSUFFICIENT_STOCK = "insufficient_stock"
    PAYMENT_DECLINED = "payment_declined"
    INVALID_STATE = "invalid_state"
    # A line's vendor is not active (pending or suspended): its products cannot be bought.
    VENDOR_UNAVAILABLE = "vendor_unavailable"
    # A vendor may not revoke its last API key: it would lock itself out.
    LAST_API_KEY = "last_api_key"
    # A label cannot be bought from a warehouse whose street address is not complete yet.
    WAREHOUSE_ADDRESS_INCOMPLETE = "warehouse_address_incomplete"
    # A platform endpoint's secret rotated again while the one it replaced still signs.
    SECRET_ROTATION_IN_PROGRESS = "secret_rotation_in_progress"
    # Webhooks whose signature or token does not hold.
    INVALID_SIGNATURE = "invalid_signature"
    # A provider (Stripe, Shippo) is down, slow or rate limited: retried, then 503.
    PROVIDER_UNAVAILABLE = "provider_unavailable"
    # A provider refused the request for good (bad parameters, an account that cannot be paid).
    PROVIDER_REJECTED = "provider_rejected"
    # A payout the vendor's Connect account refused; the workflow flags it and tries again.
    PAYOUT_FAILED = "payout_failed"
    # A vendor's notification endpoint failed, or its URL cannot be used.
    VENDOR_WEBHOOK_FAILED = "vendor_webhook_failed"
    VENDOR_WEBHOOK_URL_INVALID = "vendor_webhook_url_invalid"
    VENDOR_WEBHOOK_URL_FORBIDDEN = "vendor_webhook_url_forbidden"
    # A dependency (PostgreSQL, Redis, Temporal, a provider) is not answering: retry later.
    UNAVAILABLE = "unavailable"
    # Our own deadline passed while the work goes on: the same request again attaches to it.
    TIMEOUT = "timeout"
    INTERNAL_ERROR = "internal_error"


def _rebuild(cls: type[DomainError], detail: str, extra: dict[str, object]) -> DomainError:
    # Subclasses have their own constructors, so unpickling must not go through __init__.
    error = cls.__new__(cls)
    DomainError.__init__(error, detail, **extra)
    return error


class DomainError(Exception):
    """A refusal the caller can act on: ``code`` says which, ``detail`` says why to a person."""

    code: ErrorCode = ErrorCode.VALIDATION_ERROR

    def __init__(self, detail: str, **extra: object) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra: dict[str, object] = dict(extra)

    def __reduce__(self) -> tuple[Any, ...]:
        # Errors may cross process boundaries (workers, test runners); keep code and fields.
        return (_rebuild, (type(self), self.detail, self.extra))

    def __repr__(self) -> str:
        fields = "".join(f", {key}={value!r}" for key, value in self.extra.items())
        return f"{type(self).__name__}({self.detail!r}{fields})"


class ValidationFailed(DomainError):
    code = ErrorCode.VALIDATION_ERROR


class NotFound(DomainError):
    code = ErrorCode.NOT_FOUND


class InvalidState(DomainError):
    code = ErrorCode.INVALID_STATE


class IdempotencyKeyReused(DomainError):
    code = ErrorCode.IDEMPOTENCY_KEY_REUSED


class Unauthorized(DomainError):
    code = ErrorCode.UNAUTHORIZED


class Forbidden(DomainError):
    code = ErrorCode.FORBIDDEN


class RateLimited(DomainError):
    code = ErrorCode.RATE_LIMITED


class InsufficientStock(DomainError):
    """Not enough stock; ``extra["items"]`` lists ``{sku, requested, available}`` per short SKU."""

    code = ErrorCode.INSUFFICIENT_STOCK

    def __init__(self, items: Sequence[Mapping[str, object]], detail: str | None = None) -> None:
        rows = [dict(item) for item in items]
        if detail is None:
            short = ", ".join(
                f"{row.get('sku')} (requested {row.get('requested')}, "
                f"available {row.get('available')})"
                for row in rows
            )
            detail = f"insufficient stock: {short}" if short else "insufficient stock"
        super().__init__(detail, items=rows)


class PaymentDeclined(DomainError):
    """The card was refused; ``extra["decline_code"]`` is the provider's reason."""

    code = ErrorCode.PAYMENT_DECLINED

    def __init__(self, decline_code: str, detail: str | None = None) -> None:
        if detail is None:
            detail = f"the payment was declined ({decline_code})"
        super().__init__(detail, decline_code=decline_code)


class VendorUnavailable(DomainError):
    """Products of a vendor that is not active (domain/vendor_status.py); ``extra["skus"]``
    names them and ``extra["vendor_ids"]`` their vendors."""

    code = ErrorCode.VENDOR_UNAVAILABLE

    def __init__(self, skus: Sequence[str], vendor_ids: Sequence[str]) -> None:
        super().__init__(
            f"not sold at the moment (vendor not active): {', '.join(skus)}",
            skus=list(skus),
            vendor_ids=list(vendor_ids),
        )
