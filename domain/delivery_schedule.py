"""When a failed delivery to a platform endpoint is tried again, when it is given up, and when
an endpoint that keeps failing is disabled. Pure rules; the numbers come from settings.

Waits double from `first_wait` up to `longest_wait`, so a receiver down for a minute gets its
events within seconds of coming back, one down for a day is not hammered, and a delivery is
still tried for `give_up_after` (days in production) before it is marked failed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class RetryPolicy:
    first_wait: timedelta
    longest_wait: timedelta
    give_up_after: timedelta


@dataclass(frozen=True)
class DisablePolicy:
    # Both must hold: many failures in a row, and for long enough that a short outage never
    # disables an endpoint that sends a burst of events.
    consecutive_failures: int
    failing_for: timedelta


def retry_wait(failed_attempts: int, policy: RetryPolicy) -> timedelta:
    """The wait after the `failed_attempts`-th failure in a row (1 for the first)."""
    if failed_attempts < 1:
        return timedelta(0)
    # Capped before it is computed: 2**n grows past what timedelta holds long before days.
    doublings = min(failed_attempts - 1, 40)
    wait = policy.first_wait * (2**doublings)
    return min(wait, policy.longest_wait)


def gives_up(first_tried_at: datetime, now: datetime, policy: RetryPolicy) -> bool:
    """True once a delivery has failed for longer than the policy tries."""
    return now - first_tried_at >= policy.give_up_after


def should_disable(
    consecutive_failures: int, failing_since: datetime | None, now: datetime, policy: DisablePolicy
) -> bool:
    if failing_since is None or consecutive_failures < policy.consecutive_failures:
        return False
    return now - failing_since >= policy.failing_for


__all__ = ["DisablePolicy", "RetryPolicy", "gives_up", "retry_wait", "should_disable"]
