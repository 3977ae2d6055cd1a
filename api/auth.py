"""Bearer keys and roles (API.md, "Conventions").

Vendor keys are minted once and stored as SHA-256 digests; bootstrap keys come from settings.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from enum import StrEnum


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
    return "vk_" + secrets.token_urlsafe(32)


def same_secret(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())
