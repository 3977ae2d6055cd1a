"""Idempotency keys on mutating requests: which keys are acceptable, and when two requests
count as the same one (issue 9, item 14).

A retry is recognised by a fingerprint of what the caller sent, never by the body itself:
bodies can be large, and the fingerprint is all a later request needs to be compared with.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

MAX_KEY_LENGTH = 255


def key_problem(key: str) -> str | None:
    """Why this Idempotency-Key cannot be used, or None when it can."""
    if not key:
        return "must not be empty"
    if len(key) > MAX_KEY_LENGTH:
        return f"must be at most {MAX_KEY_LENGTH} characters"
    if any(ord(char) < 0x20 or ord(char) == 0x7F for char in key):
        return "must not contain control characters"
    return None


def _refuse_constant(name: str) -> Any:
    # NaN and Infinity are not JSON; such a body is compared byte for byte instead.
    raise ValueError(name)


def canonical_json(payload: Any) -> bytes:
    """One spelling per JSON value: sorted keys, no whitespace, ASCII escapes (so a lone
    surrogate escape, legal in JSON, still encodes)."""
    return json.dumps(
        payload, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
    ).encode("ascii")


def body_fingerprint(body: bytes) -> str:
    """SHA-256 of the body as canonical JSON when it is JSON, else of its raw bytes.

    Key order and whitespace do not make a retry a different request; the prefix keeps a
    JSON body and a non-JSON body that happen to hash alike apart.
    """
    try:
        canonical = canonical_json(json.loads(body, parse_constant=_refuse_constant))
    except (ValueError, RecursionError):
        return "raw:" + hashlib.sha256(body).hexdigest()
    return "json:" + hashlib.sha256(canonical).hexdigest()


def request_fingerprint(method: str, path: str, query: str, body: bytes) -> str:
    """SHA-256 hex of everything that makes a request what it is: the same key sent with
    another method, path, query or body is another request, refused as a reuse."""
    # A JSON array keeps the parts apart whatever they hold (a path may carry a %00).
    parts = [method.upper(), path, query, body_fingerprint(body)]
    return hashlib.sha256(canonical_json(parts)).hexdigest()
