"""Retired patches (issue 11): a run today records each workflow's one remaining patch marker
as deprecated, and no other, so the call can be dropped once no run recorded while the patch
was live is open (docs/production.md, "Retired patches")."""

from __future__ import annotations

import json

from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from domain.ids import vendor_order_workflow_id
from tests.workflows.fakes import FakeWorld
from tests.workflows.test_order_saga import check_out, order_input, ship_and_deliver
from workflows.order_base import LEAN_PATCH
from workflows.vendor_order_base import LEAN


async def patch_markers(handle: WorkflowHandle) -> list[dict[str, object]]:
    markers = []
    async for event in handle.fetch_history_events():
        marker = event.marker_recorded_event_attributes
        # Local activities record markers too; a patch's is "core_patch".
        if (
            event.event_type == EventType.EVENT_TYPE_MARKER_RECORDED
            and "patch-data" in marker.details
        ):
            markers.append(json.loads(marker.details["patch-data"].payloads[0].data))
    return markers


async def test_a_new_order_records_only_the_deprecated_marker_of_each_retired_patch(
    env: WorkflowEnvironment, task_queue: str, fake: FakeWorld
) -> None:
    order = order_input()
    _, handle = await check_out(env, task_queue, order)
    await ship_and_deliver(env, order.order_id, "ven_a")
    await ship_and_deliver(env, order.order_id, "ven_b")
    assert await handle.result() == "completed"
    assert await patch_markers(handle) == [{"id": LEAN_PATCH, "deprecated": True}]
    child = env.client.get_workflow_handle(vendor_order_workflow_id(order.order_id, "ven_a"))
    assert await patch_markers(child) == [{"id": LEAN, "deprecated": True}]
