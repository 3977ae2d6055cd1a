"""Bearer keys and roles (API.md, "Conventions").

Vendor keys are minted once and stored as SHA-256 digests; bootstrap keys come from settings,
each role's as a comma-separated list so that a key can be rotated (docs/api-protection.md).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from enum import StrEnum

from models.settings import Settings

VENDOR_KEY_PREFIX = "vk_"
# "vk_" and token_urlsafe(32): 43 characters of the URL-safe alphabet.
_VENDOR_KEY_LENGTH = len(VENDOR_KEY_PREFIX) + 43
_URL_SAFE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


class Role(StrEnum):
    PLATFORM = "platform"
    OPS = "ops"
    VENDOR = "vendor"


@dataclass(frozen=True)
class Principal:
    role: Role
    vendor_id: str | None = None


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def mint_vendor_key() -> str:
    return VENDOR_KEY_PREFIX + secrets.token_urlsafe(32)


def looks_like_vendor_key(token: str) -> bool:
    """Shaped like a key mint_vendor_key makes (whether one exists is the database's word)."""
    return (
        len(token) == _VENDOR_KEY_LENGTH
        and token.startswith(VENDOR_KEY_PREFIX)
        and _URL_SAFE.issuperset(token[len(VENDOR_KEY_PREFIX) :])
    )


def bootstrap_role(token: str, settings: Settings) -> Role | None:
    """PLATFORM or OPS when the token is one of that role's keys in settings, else None."""
    for role, keys in ((Role.PLATFORM, settings.platform_keys), (Role.OPS, settings.ops_keys)):
        # Every key compared, in constant time each: which one matched does not show.
        if sum(same_secret(token, key) for key in keys):
            return role
    return None


def same_secret(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())
