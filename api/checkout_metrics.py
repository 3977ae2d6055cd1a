"""Checkout answers for Prometheus: how many by outcome, and how long the buyer waited.

Counted where the answer is decided: the route (api/routers/checkout.py) and the flash sale's
lane (api/checkout_lane.py), which refuses a sold-out checkout before the route runs. The
outcome is what a storefront sees: confirmed, refused (with the problem's stable code),
timeout (504: the saga goes on, the buyer retries) or error (503 or an unexpected failure,
the one an operator is paged for).
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

from domain.errors import ErrorCode

CHECKOUTS = Counter(
    "fulfillment_checkouts_total",
    "Checkout answers (POST /v1/orders) by outcome and problem code",
    ["outcome", "code"],
)
# Up to past the 45 s checkout timeout (FULFILLMENT_CHECKOUT_TIMEOUT): a flash sale's slowest
# confirmations took about 35 s (bench/README.md), and a refusal takes milliseconds.
CHECKOUT_SECONDS = Histogram(
    "fulfillment_checkout_seconds",
    "Time to answer a checkout, by outcome",
    ["outcome"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 45, 60),
)

CONFIRMED = "confirmed"
REFUSED = "refused"
TIMEOUT = "timeout"
ERROR = "error"
# The code label of an answer that carries no problem.
NO_CODE = "none"
# Problems the buyer can do nothing about but wait: the system's fault, not the order's.
_ERRORS = frozenset({ErrorCode.UNAVAILABLE, ErrorCode.INTERNAL_ERROR})


def outcome_of(error: BaseException | None) -> tuple[str, str]:
    """(outcome, code) of a checkout that ended with `error` (None: confirmed)."""
    if error is None:
        return CONFIRMED, NO_CODE
    code = getattr(error, "code", None)
    if not isinstance(code, ErrorCode):
        return ERROR, ErrorCode.INTERNAL_ERROR.value
    if code == ErrorCode.TIMEOUT:
        return TIMEOUT, code.value
    if code in _ERRORS:
        return ERROR, code.value
    return REFUSED, code.value


def record(error: BaseException | None, seconds: float) -> None:
    outcome, code = outcome_of(error)
    CHECKOUTS.labels(outcome, code).inc()
    CHECKOUT_SECONDS.labels(outcome).observe(seconds)
