"""Idempotent answers are kept sealed, under a key only their caller holds.

The answer to a request sent with an `Idempotency-Key` is kept for a day so that a retry gets
it again (api/idempotency.py). Some answers carry a secret shown once: `POST /v1/vendors`
answers the vendor's API key, which PostgreSQL otherwise keeps only as a hash. Kept in clear,
that key would sit in the database, its replicas and its backups for a day. So the body is
encrypted (AES-256-GCM) under a key derived from the caller's own bearer token and the
Idempotency-Key: the same caller retrying opens it; someone reading the database cannot.

A caller whose token changed since the first answer (a rotated key) cannot open it: that
retry is told so, never answered with another run of the request.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

# Sealed bodies start with this; a body kept before sealing existed (JSON or empty) never does.
MARK = b"sealed:v1:"
_NONCE_BYTES = 12
_CONTEXT = b"fulfillment idempotent answer v1\0"
Headers = Sequence[tuple[str, str]]


class Unsealable(Exception):
    """The body was sealed under another token (or altered): it cannot be replayed."""


def _key(token: str, scope: str, idempotency_key: str) -> bytes:
    message = _CONTEXT + scope.encode() + b"\0" + idempotency_key.encode()
    return hmac.new(token.encode(), message, hashlib.sha256).digest()


def _bound_to(scope: str, idempotency_key: str, status: int, headers: Headers) -> bytes:
    # Authenticated with the ciphertext (kept in clear beside it): a sealed body copied to
    # another key, or given another status or headers in the database, does not open.
    answer = json.dumps([status, [list(pair) for pair in headers]], separators=(",", ":"))
    return b"\0".join((scope.encode(), idempotency_key.encode(), answer.encode()))


def seal(
    body: bytes, *, token: str, scope: str, idempotency_key: str, status: int, headers: Headers
) -> bytes:
    nonce = os.urandom(_NONCE_BYTES)
    sealed = AESGCM(_key(token, scope, idempotency_key)).encrypt(
        nonce, body, _bound_to(scope, idempotency_key, status, headers)
    )
    return MARK + nonce + sealed


def open_sealed(
    stored: bytes, *, token: str, scope: str, idempotency_key: str, status: int, headers: Headers
) -> bytes:
    """The body as first answered. A body kept before sealing existed is returned as is
    (such rows are gone one retention period after the upgrade; the pass-through can go
    then)."""
    if not stored.startswith(MARK):
        return stored
    rest = stored[len(MARK) :]
    nonce, sealed = rest[:_NONCE_BYTES], rest[_NONCE_BYTES:]
    try:
        return AESGCM(_key(token, scope, idempotency_key)).decrypt(
            nonce, sealed, _bound_to(scope, idempotency_key, status, headers)
        )
    except (InvalidTag, ValueError) as error:
        raise Unsealable from error
