"""One notification to a vendor's webhook, retried with backoff for up to three days.

Notifications never hold an order up: `notify_vendor` starts this workflow as an abandoned
child and waits only for it to start, and the workflow ends without failing when the vendor
never answers. Its id is `notify-{event_id}`, so an event is sent once, however often the
caller (or its replay) asks.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import ActivityError, WorkflowAlreadyStartedError

with workflow.unsafe.imports_passed_through():
    from domain.ids import notification_workflow_id
    from models.messages.notifications import NotificationOutcome, VendorNotification
    from temporal.names import Activity, Workflow

DELIVERY_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(hours=1),
    maximum_attempts=0,  # unlimited: the three-day schedule-to-close timeout ends it
)
DELIVERY_WINDOW = timedelta(days=3)
ATTEMPT_TIMEOUT = timedelta(seconds=30)


@workflow.defn(name=Workflow.VENDOR_NOTIFICATION)
class VendorNotificationWorkflow:
    @workflow.run
    async def run(self, notification: VendorNotification) -> NotificationOutcome:
        try:
            return await workflow.execute_activity(
                Activity.DELIVER_NOTIFICATION,
                notification,
                result_type=NotificationOutcome,
                start_to_close_timeout=ATTEMPT_TIMEOUT,
                schedule_to_close_timeout=DELIVERY_WINDOW,
                retry_policy=DELIVERY_RETRY,
            )
        except ActivityError as error:
            # Out of time, or a URL no retry can fix: nobody waits on this, so end quietly.
            workflow.logger.warning(
                "gave up notifying vendor %s of %s: %s",
                notification.vendor_id,
                notification.event_id,
                error.cause or error,
            )
            return NotificationOutcome(delivered=False, skipped="gave_up")


async def notify_vendor(notification: VendorNotification) -> None:
    """From workflow code: send `notification` in the background. Returns once the delivery
    workflow has started (or had already been started for this event id); never raises for a
    duplicate and never waits for the vendor."""
    try:
        await workflow.start_child_workflow(
            VendorNotificationWorkflow.run,
            notification,
            id=notification_workflow_id(notification.event_id),
            parent_close_policy=workflow.ParentClosePolicy.ABANDON,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        )
    except WorkflowAlreadyStartedError:
        pass  # this event was already handed over: sending it again would duplicate it
