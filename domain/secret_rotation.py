"""Rolling a platform endpoint's signing secret without downtime (docs/platform-events.md,
"Rotating the signing secret").

Pure rules: an endpoint has its current secret and, for a while after a rotation, the one it
replaced. Until that one's expiry every delivery is signed with both (the current first), so
a receiver that has not switched yet still verifies; from the expiry on, only the current.

An endpoint holds at most two secrets. Rotating again while the replaced one is still live is
refused: the replaced secret is the one receivers are most likely still using, and dropping it
silently is the outage a rotation exists to avoid. It can be rotated again once it expired
(an expiry of 0 ends it at once).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

DEFAULT_EXPIRY_SECONDS = 24 * 3600
LONGEST_EXPIRY_SECONDS = 7 * 24 * 3600


def previous_is_live(previous_expires_at: datetime | None, at: datetime) -> bool:
    """Whether the replaced secret still signs a delivery made at `at` (it stops at its
    expiry, not one instant later)."""
    return previous_expires_at is not None and at < previous_expires_at


def secrets_in_use(
    current: str, previous: str | None, previous_expires_at: datetime | None, at: datetime
) -> list[str]:
    """The secrets a delivery made at `at` is signed with, the current first."""
    if previous is not None and previous_is_live(previous_expires_at, at):
        return [current, previous]
    return [current]


@dataclass(frozen=True)
class Rotation:
    secret: str
    previous_secret: str | None
    previous_secret_expires_at: datetime | None


class RotationInProgress(Exception):
    """The secret replaced by the last rotation still signs deliveries until `expires_at`."""

    def __init__(self, expires_at: datetime) -> None:
        super().__init__(f"the previous secret is live until {expires_at.isoformat()}")
        self.expires_at = expires_at


def rotate(
    current: str,
    previous_expires_at: datetime | None,
    now: datetime,
    expire_current_after_seconds: int,
    new_secret: str,
) -> Rotation:
    """The endpoint's secrets after a rotation at `now`: `new_secret` signs from now on, the
    current one beside it for `expire_current_after_seconds` (0: not at all)."""
    if previous_expires_at is not None and previous_is_live(previous_expires_at, now):
        raise RotationInProgress(previous_expires_at)
    if not 0 <= expire_current_after_seconds <= LONGEST_EXPIRY_SECONDS:
        raise ValueError(f"expiry {expire_current_after_seconds} s is out of range")
    if expire_current_after_seconds == 0:
        # Nothing to keep: the replaced secret is not stored at all.
        return Rotation(new_secret, None, None)
    expires_at = now + timedelta(seconds=expire_current_after_seconds)
    return Rotation(new_secret, current, expires_at)


__all__ = [
    "DEFAULT_EXPIRY_SECONDS",
    "LONGEST_EXPIRY_SECONDS",
    "Rotation",
    "RotationInProgress",
    "previous_is_live",
    "rotate",
    "secrets_in_use",
]
