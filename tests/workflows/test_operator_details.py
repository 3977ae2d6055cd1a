"""An operator at 3 a.m. reads in the Temporal UI what each order is doing (issue 12): each
workflow's current details say what it waits for and until when, each workflow has a summary
of what it is, and the steps that move money say so. Read back through the client, as the
UI reads them (the `__temporal_workflow_metadata` query, describe's user metadata)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from temporalio.api.enums.v1 import EventType
from temporalio.api.sdk.v1 import WorkflowMetadata
from temporalio.client import WorkflowHandle
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter
from temporalio.testing import WorkflowEnvironment

from domain.ids import vendor_order_workflow_id
from models.messages.shipping import ShipRequest
from models.messages.vendor_order import VendorOrderInput
from tests.workflows.fakes import FakeWorld
from tests.workflows.test_order_saga import check_out, order_input, with_timing
from tests.workflows.test_vendor_money import ship_and_deliver, until
from tests.workflows.timed_orders import vendor_a


async def details(handle: WorkflowHandle) -> str:
    metadata = await handle.query("__temporal_workflow_metadata", result_type=WorkflowMetadata)
    return metadata.current_details


async def says(handle: WorkflowHandle, expected: str, within: float = 10) -> None:
    """The workflow's details become `expected` (a step runs between the call that caused it
    and the sentence: an activity, a child's start)."""
    said = ""
    for _ in range(int(within / 0.05)):
        said = await details(handle)
        if said == expected:
            return
        await asyncio.sleep(0.05)
    assert said == expected


async def started_with(handle: WorkflowHandle) -> VendorOrderInput:
    history = await handle.fetch_history()
    started = history.events[0].workflow_execution_started_event_attributes
    [value] = await pydantic_data_converter.decode(started.input.payloads, [VendorOrderInput])
    assert isinstance(value, VendorOrderInput)
    return value


async def last_event_time(handle: WorkflowHandle) -> datetime:
    history = await handle.fetch_history()
    return history.events[-1].event_time.ToDatetime(tzinfo=UTC)


async def activity_summaries(handle: WorkflowHandle) -> list[str]:
    summaries = []
    async for event in handle.fetch_history_events():
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            payload = event.user_metadata.summary
            if payload.data:
                summaries.append(DataConverter.default.payload_converter.from_payload(payload, str))
    return summaries


async def test_each_step_of_a_vendor_order_says_what_it_waits_for_and_until_when(
    env: WorkflowEnvironment, task_queue: str, fake: FakeWorld
) -> None:
    fake.catalog["BRAKE-01"].ship_sla_seconds = timedelta(days=2).total_seconds()
    order = order_input()
    with env.with_time_skipping_disabled():
        _, parent = await check_out(env, task_queue, order)
        child = env.client.get_workflow_handle(vendor_order_workflow_id(order.order_id, "ven_a"))
        # What it is, from its start: the vendor by name, what it sells, for how much
        description = await child.describe()
        assert await description.static_summary() == (
            f"Brakes Co's part of {order.order_id}: 3 x BRAKE-01 ($60.00)"
        )
        ship_by = (await started_with(child)).created_at + timedelta(days=2)
        await says(child, f"waiting for Brakes Co to ship, SLA ends {ship_by:%Y-%m-%d %H:%M} UTC")
        # The order names its vendors (by id where the catalog has no name) and where each is
        await says(
            parent,
            "charged $109.99; waiting for Brakes Co: awaiting shipment; ven_b: awaiting shipment",
        )
        await child.execute_update("ship", ShipRequest(carrier="ups", tracking_number="1Z999"))
        # order_input() sets no delivery-overdue timer: nothing to be overdue after
        await says(child, "shipped with ups 1Z999; waiting for delivery")
        await says(
            parent, "charged $109.99; waiting for Brakes Co: shipped; ven_b: awaiting shipment"
        )
        await child.execute_update("deliver")
        ends = (await last_event_time(child)) + timedelta(days=14)
        await says(
            child,
            f"delivered; return window open until {ends:%Y-%m-%d %H:%M} UTC, then the vendor "
            "is paid",
        )


async def test_a_refused_payout_says_why_and_when_it_is_tried_again(
    env: WorkflowEnvironment, task_queue: str, fake: FakeWorld
) -> None:
    order = with_timing(order_input(), payout_retry_seconds=3600.0)
    _, child = await vendor_a(env, task_queue, fake, order)
    fake.refusing_payouts = True
    await ship_and_deliver(child)
    await until(lambda: fake.payout_attempts >= 1, within=60)
    said = await details(child)
    assert said.startswith("payout to Brakes Co refused (account restricted), 1 attempt(s); ")
    assert "next try at " in said and said.endswith("or now with retry-payout")
    assert await activity_summaries(child) == ["pay the vendor, attempt 1"]
    fake.refusing_payouts = False
    await child.signal("retry_payout")
    assert await child.result() == "completed"
    assert await details(child) == "completed: Brakes Co paid $54.00"
