"""Timeouts and retry policies shared by the workflows."""

from __future__ import annotations

from datetime import timedelta
from typing import TypedDict

from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError


# Provider and database calls: retried with the same idempotency key until they answer.
class ActivityOptions(TypedDict):
    start_to_close_timeout: timedelta
    retry_policy: RetryPolicy


STEP = ActivityOptions(
    start_to_close_timeout=timedelta(seconds=30),
    retry_policy=RetryPolicy(
        initial_interval=timedelta(milliseconds=200),
        backoff_coefficient=2.0,
        maximum_interval=timedelta(seconds=10),
    ),
)


class LocalActivityOptions(TypedDict):
    start_to_close_timeout: timedelta
    retry_policy: RetryPolicy
    local_retry_threshold: timedelta


# The checkout's database steps (issue 10): milliseconds of work, run in the workflow's own
# task. The first retries happen in the worker; once the backoff passes the threshold (after
# about 5 s of failing: a database or Stripe outage) each retry waits on a durable timer
# instead, so an outage of hours adds a few events per retry rather than a task heartbeat
# (three events) every 8 s, and a worker restart resumes the wait.
_LOCAL_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=200),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=2),
)
LOCAL_STEP = LocalActivityOptions(
    start_to_close_timeout=timedelta(seconds=10),
    retry_policy=_LOCAL_RETRY,
    local_retry_threshold=timedelta(seconds=5),
)

# The charge: Stripe may take seconds; the order's idempotency key makes any re-run safe.
CHARGE = LocalActivityOptions(
    start_to_close_timeout=timedelta(seconds=30),
    retry_policy=_LOCAL_RETRY,
    local_retry_threshold=timedelta(seconds=5),
)

# A payout must never be lost: it retries with growing backoff until the cause is fixed.
PAYOUT = ActivityOptions(
    start_to_close_timeout=timedelta(seconds=60),
    retry_policy=RetryPolicy(
        initial_interval=timedelta(seconds=1),
        backoff_coefficient=2.0,
        maximum_interval=timedelta(minutes=30),
    ),
)


# What a failed step raises in the workflow: an activity's failure comes wrapped in an
# ActivityError; a local activity's non-retryable ApplicationError comes as it was raised.
STEP_FAILED = (ActivityError, ApplicationError)


# Registering a parcel for tracking is a nicety: a few tries, then shipping goes on without.
TRACKING = ActivityOptions(
    start_to_close_timeout=timedelta(seconds=20),
    retry_policy=RetryPolicy(initial_interval=timedelta(seconds=1), maximum_attempts=3),
)

# A vendor waits on the label: give up after about a minute of Shippo failing, so the ship
# request answers (503) instead of hanging; sending it again buys at most one label.
LABEL = ActivityOptions(
    start_to_close_timeout=timedelta(seconds=30),
    retry_policy=RetryPolicy(
        initial_interval=timedelta(milliseconds=500),
        backoff_coefficient=2.0,
        maximum_interval=timedelta(seconds=10),
        maximum_attempts=6,
    ),
)
