"""Vendor notifications on a time-skipping server: delivery is retried with backoff, and an
order never waits for a vendor's webhook."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from temporalio import activity, workflow
from temporalio.client import WorkflowExecutionStatus
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from models.messages.notifications import NotificationOutcome, VendorNotification
from temporal.names import Activity
from workflows.notification import VendorNotificationWorkflow, notify_vendor


@dataclass
class FakeReceiver:
    """Stands in for `notifications.deliver`: answers with a failure `failures` times (or
    always), and records every attempt."""

    failures: int | None = 0
    non_retryable: bool = False
    error_type: str = "vendor_webhook_failed"
    attempts: list[str] = field(default_factory=list)
    infos: list[activity.Info] = field(default_factory=list)

    @property
    def delivered(self) -> list[str]:
        return self.attempts[self.failures :] if self.failures is not None else []

    @activity.defn(name=Activity.DELIVER_NOTIFICATION)
    async def deliver(self, notification: VendorNotification) -> NotificationOutcome:
        self.attempts.append(notification.event_id)
        self.infos.append(activity.info())
        if self.failures is None or len(self.attempts) <= self.failures:
            raise ApplicationError(
                "the vendor's webhook answered 503 Service Unavailable",
                type=self.error_type,
                non_retryable=self.non_retryable,
            )
        return NotificationOutcome(delivered=True, status_code=204)


@workflow.defn(name="NotifyingParent")
class NotifyingParent:
    """An order-like workflow that notifies the vendor, possibly more than once."""

    @workflow.run
    async def run(self, notifications: list[VendorNotification]) -> str:
        for notification in notifications:
            await notify_vendor(notification)
        return "done"


async def until(predicate: Callable[[], bool], within: float = 20) -> None:
    for _ in range(int(within / 0.05)):
        if predicate():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the condition never held")


def notification(event: str = "created") -> VendorNotification:
    vendor_order_id = f"vo_{uuid.uuid4().hex[:12]}"
    return VendorNotification(
        event_id=f"{vendor_order_id}.{event}",
        vendor_id="ven_a",
        type=f"vendor_order.{event}",
        created_at=datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC),
        vendor_order_id=vendor_order_id,
        data={"lines": [{"sku": "BRAKE-01", "quantity": 3}]},
    )


@pytest.fixture
def receiver() -> FakeReceiver:
    return FakeReceiver()


@pytest.fixture
async def worker(
    env: WorkflowEnvironment, task_queue: str, receiver: FakeReceiver
) -> AsyncIterator[Worker]:
    async with Worker(
        env.client,
        task_queue=task_queue,
        workflows=[VendorNotificationWorkflow, NotifyingParent],
        activities=[receiver.deliver],
    ) as running:
        yield running


async def test_a_delivery_that_fails_twice_is_retried_and_ends_delivered(
    env: WorkflowEnvironment, task_queue: str, receiver: FakeReceiver, worker: Worker
) -> None:
    receiver.failures = 2
    sent = notification()

    outcome = await env.client.execute_workflow(
        VendorNotificationWorkflow.run,
        sent,
        id=f"notify-{sent.event_id}",
        task_queue=task_queue,
    )

    assert outcome == NotificationOutcome(delivered=True, status_code=204)
    assert receiver.attempts == [sent.event_id] * 3
    times = [info.current_attempt_scheduled_time for info in receiver.infos]
    # In the workflow's skipped time: 2 s, then 4 s (plus the attempts' own run time).
    assert times[1] - times[0] >= timedelta(seconds=2)
    assert times[2] - times[1] >= timedelta(seconds=4)


async def test_a_delivery_is_retried_from_two_seconds_to_hourly_for_three_days(
    env: WorkflowEnvironment, task_queue: str, receiver: FakeReceiver, worker: Worker
) -> None:
    sent = notification()

    await env.client.execute_workflow(
        VendorNotificationWorkflow.run,
        sent,
        id=f"notify-{sent.event_id}",
        task_queue=task_queue,
    )

    (info,) = receiver.infos
    assert info.retry_policy == RetryPolicy(
        initial_interval=timedelta(seconds=2),
        backoff_coefficient=2.0,
        maximum_interval=timedelta(hours=1),
        maximum_attempts=0,
    )
    assert (info.schedule_to_close_timeout, info.start_to_close_timeout) == (
        timedelta(days=3),
        timedelta(seconds=30),
    )


async def test_a_failure_no_retry_can_fix_ends_the_notification_at_once_without_failing(
    env: WorkflowEnvironment, task_queue: str, receiver: FakeReceiver, worker: Worker
) -> None:
    receiver.failures, receiver.non_retryable = None, True
    sent = notification()

    outcome = await env.client.execute_workflow(
        VendorNotificationWorkflow.run,
        sent,
        id=f"notify-{sent.event_id}",
        task_queue=task_queue,
    )

    assert outcome == NotificationOutcome(delivered=False, skipped="gave_up")
    assert receiver.attempts == [sent.event_id]


async def test_a_webhook_url_the_outbound_rules_refuse_ends_the_notification_after_one_attempt(
    env: WorkflowEnvironment, task_queue: str, receiver: FakeReceiver, worker: Worker
) -> None:
    # What notifications.deliver raises for a loopback, private or metadata address.
    receiver.failures, receiver.non_retryable = None, True
    receiver.error_type = "vendor_webhook_url_forbidden"
    sent = notification()

    outcome = await env.client.execute_workflow(
        VendorNotificationWorkflow.run,
        sent,
        id=f"notify-{sent.event_id}",
        task_queue=task_queue,
    )

    assert outcome == NotificationOutcome(delivered=False, skipped="gave_up")
    assert receiver.attempts == [sent.event_id]


async def test_an_order_that_notifies_a_vendor_completes_without_waiting_for_its_webhook(
    env: WorkflowEnvironment, task_queue: str, receiver: FakeReceiver, worker: Worker
) -> None:
    receiver.failures = None  # the vendor's endpoint never answers 2xx
    sent = notification()

    parent = await env.client.execute_workflow(
        NotifyingParent.run,
        [sent],
        id=f"order-{uuid.uuid4().hex[:12]}",
        task_queue=task_queue,
    )
    # The delivery goes on failing and being retried after the order is done.
    await until(lambda: len(receiver.attempts) >= 2)
    child = env.client.get_workflow_handle(f"notify-{sent.event_id}")
    still = (await child.describe()).status
    await child.terminate("test over")

    assert parent == "done"
    assert still == WorkflowExecutionStatus.RUNNING
    assert receiver.delivered == []


async def test_the_parent_closing_does_not_stop_a_pending_delivery(
    env: WorkflowEnvironment, task_queue: str, receiver: FakeReceiver, worker: Worker
) -> None:
    receiver.failures = 5
    sent = notification()

    await env.client.execute_workflow(
        NotifyingParent.run,
        [sent],
        id=f"order-{uuid.uuid4().hex[:12]}",
        task_queue=task_queue,
    )
    outcome = await env.client.get_workflow_handle(
        f"notify-{sent.event_id}", result_type=NotificationOutcome
    ).result()

    assert outcome == NotificationOutcome(delivered=True, status_code=204)
    assert receiver.attempts == [sent.event_id] * 6


async def test_the_same_event_notified_twice_is_delivered_once(
    env: WorkflowEnvironment, task_queue: str, receiver: FakeReceiver, worker: Worker
) -> None:
    sent = notification()
    again = sent.model_copy(update={"data": {"changed": True}})
    other = notification("ship_reminder")

    first = await env.client.execute_workflow(
        NotifyingParent.run,
        [sent, again, other],
        id=f"order-{uuid.uuid4().hex[:12]}",
        task_queue=task_queue,
    )
    await env.client.get_workflow_handle(f"notify-{sent.event_id}").result()
    await env.client.get_workflow_handle(f"notify-{other.event_id}").result()
    # Later, another workflow (or a replay) asks for the same event after it was delivered.
    second = await env.client.execute_workflow(
        NotifyingParent.run,
        [sent],
        id=f"order-{uuid.uuid4().hex[:12]}",
        task_queue=task_queue,
    )

    assert (first, second) == ("done", "done")
    assert sorted(receiver.attempts) == sorted([sent.event_id, other.event_id])
