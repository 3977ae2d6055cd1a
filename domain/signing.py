"""Signatures on the notifications POSTed to vendors' webhooks (docs/vendor-webhooks.md).

The header is `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>." + body>`. The timestamp is
signed with the body, so a captured delivery cannot be replayed later than the tolerance. A
header may carry several `v1` values (signed with the old and the new secret while a secret
is being rotated): any one that matches is enough.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence

from domain.errors import ValidationFailed

SIGNATURE_HEADER = "Fulfillment-Signature"
SCHEME = "v1"
DEFAULT_TOLERANCE_SECONDS = 300
SECRET_PREFIX = "whsec_"


class InvalidSignature(ValidationFailed):
    """A delivery that must not be trusted; ``extra["reason"]`` is `malformed`, `mismatch`
    or `expired`."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail, reason=reason)


def _digest(secret: str, timestamp: int, body: bytes) -> str:
    signed = f"{timestamp}.".encode() + body
    return hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The value of the signature header for `body` sent at `timestamp` (unix seconds)."""
    return sign_all([secret], timestamp, body)


def sign_all(secrets_in_use: Sequence[str], timestamp: int, body: bytes) -> str:
    """The header signed with each secret, in the order given (`t=..,v1=<first>,v1=<second>`):
    one timestamp, one `v1=` per secret, so a receiver that knows any one of them verifies."""
    if not secrets_in_use:
        raise ValueError("a delivery is signed with at least one secret")
    signatures = ",".join(f"{SCHEME}={_digest(s, timestamp, body)}" for s in secrets_in_use)
    return f"t={timestamp},{signatures}"


def _parse(header: str) -> tuple[int, list[str]]:
    timestamp: int | None = None
    signatures: list[str] = []
    for item in header.split(","):
        key, separator, value = item.strip().partition("=")
        if not separator or not value:
            raise InvalidSignature("malformed", f"malformed signature header item {item!r}")
        if key == "t":
            if timestamp is not None or not value.isascii() or not value.isdigit():
                raise InvalidSignature("malformed", "the signature header needs one timestamp")
            timestamp = int(value)
        elif key == SCHEME:
            signatures.append(value)
        # Other schemes are ignored, so a newer one can be added beside v1.
    if timestamp is None or not signatures:
        raise InvalidSignature("malformed", f"the signature header needs t= and {SCHEME}=")
    return timestamp, signatures


def verify(
    secret: str,
    header: str,
    body: bytes,
    now: int,
    tolerance: int = DEFAULT_TOLERANCE_SECONDS,
) -> None:
    """Accept a delivery, or raise InvalidSignature: the header is malformed, no signature
    matches `secret`, or it was signed more than `tolerance` seconds before or after `now`."""
    timestamp, signatures = _parse(header)
    expected = _digest(secret, timestamp, body).encode()
    # Constant-time comparisons, on bytes: compare_digest refuses non-ASCII text.
    matches = [hmac.compare_digest(expected, candidate.encode()) for candidate in signatures]
    if not any(matches):
        raise InvalidSignature("mismatch", "no signature matches the body and the secret")
    if abs(now - timestamp) > tolerance:
        raise InvalidSignature(
            "expired", f"signed at {timestamp}, more than {tolerance} s away from {now}"
        )


def new_secret() -> str:
    """A fresh signing secret for a vendor (not for workflow code: it is random)."""
    return SECRET_PREFIX + secrets.token_urlsafe(32)
