"""Every error code a caller can meet beyond the domain's own (domain.errors.ErrorCode).

Activities, workflows, providers and the API raise these as strings (an ApplicationError's
`type`, a Problem's `code`); the API maps each to one HTTP status (api/errors.py). Listed
here so a test can check that each one is mapped, and that no code is used unlisted.
"""

from __future__ import annotations

# A provider (Stripe, Shippo) is down, slow or rate limited: retried, then 503.
PROVIDER_UNAVAILABLE = "provider_unavailable"
# A provider refused the request for good (bad parameters, an account that cannot be paid).
PROVIDER_REJECTED = "provider_rejected"
# A payout the vendor's Connect account refused; the workflow flags it and tries again.
PAYOUT_FAILED = "payout_failed"
# A vendor's notification endpoint failed or its URL cannot be used.
VENDOR_WEBHOOK_FAILED = "vendor_webhook_failed"
VENDOR_WEBHOOK_URL_INVALID = "vendor_webhook_url_invalid"
VENDOR_WEBHOOK_URL_FORBIDDEN = "vendor_webhook_url_forbidden"
# Webhooks whose signature or token does not hold.
INVALID_SIGNATURE = "invalid_signature"
# A dependency (PostgreSQL, Redis, Temporal, a provider) is not answering: retry later.
UNAVAILABLE = "unavailable"
# Our own deadline passed while the work goes on: the same request again attaches to it.
TIMEOUT = "timeout"
INTERNAL_ERROR = "internal_error"
# HTTP-level refusals before any route runs.
BAD_REQUEST = "bad_request"
METHOD_NOT_ALLOWED = "method_not_allowed"
PAYLOAD_TOO_LARGE = "payload_too_large"

BEYOND_DOMAIN = frozenset(
    {
        PROVIDER_UNAVAILABLE,
        PROVIDER_REJECTED,
        PAYOUT_FAILED,
        VENDOR_WEBHOOK_FAILED,
        VENDOR_WEBHOOK_URL_INVALID,
        VENDOR_WEBHOOK_URL_FORBIDDEN,
        INVALID_SIGNATURE,
        UNAVAILABLE,
        TIMEOUT,
        INTERNAL_ERROR,
        BAD_REQUEST,
        METHOD_NOT_ALLOWED,
        PAYLOAD_TOO_LARGE,
    }
)
