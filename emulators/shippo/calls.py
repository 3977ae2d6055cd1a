"""One API request as the handlers see it, and the checks every handler shares."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .errors import detail, invalid

METADATA_LIMIT = 100


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    base_url: str  # "http://127.0.0.1:12112", no trailing slash
    body: Any = None
    query: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}"

    def object_body(self) -> dict[str, Any]:
        if not isinstance(self.body, dict):
            raise detail(400, "JSON parse error - the body must be a JSON object.")
        return self.body


def metadata(body: dict[str, Any]) -> str:
    value = body.get("metadata")
    if value is None:
        return ""
    if not isinstance(value, str):
        raise invalid("metadata", "Not a valid string.")
    if len(value) > METADATA_LIMIT:
        raise invalid(
            "metadata", f"Ensure this field has no more than {METADATA_LIMIT} characters."
        )
    return value


def flag(body: dict[str, Any], name: str, default: bool) -> bool:
    value = body.get(name, default)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise invalid(name, "Must be a valid boolean.")
    return value
