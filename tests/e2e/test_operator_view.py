"""What an operator sees of a real checkout in the Temporal UI (issue 12): the order says who
ordered what, and once confirmed what it charged and what each vendor still has to do; each
vendor order names its vendor and its ship deadline."""

from __future__ import annotations

import asyncio

import httpx
from temporalio.api.sdk.v1 import WorkflowMetadata
from temporalio.client import WorkflowHandle

from devstack.stack import DevStack
from temporal.client import connect
from tests.e2e.client import onboard, order_body, place, stock_product


async def details(handle: WorkflowHandle, expected_start: str) -> str:
    said = ""
    for _ in range(200):
        query = "__temporal_workflow_metadata"
        said = (await handle.query(query, result_type=WorkflowMetadata)).current_details
        if said.startswith(expected_start):
            break
        await asyncio.sleep(0.05)
    return said


async def test_an_operator_reads_who_ordered_what_and_what_each_vendor_must_do(
    api: httpx.AsyncClient, stack: DevStack
) -> None:
    seller = await onboard(api, "Brakes Co", ship_sla="P2D", email="brakes@example.com")
    sku = await stock_product(api, seller, price_cents=2500, on_hand=5)
    body = order_body([(sku, 2)])
    placed = await place(api, body)
    assert placed.status_code == 201, placed.text
    order = placed.json()
    temporal = await connect(stack.env["TEMPORAL_ADDRESS"])
    parent = temporal.get_workflow_handle(order["workflow_id"])
    summary = await (await parent.describe()).static_summary()
    assert summary == f"order {order['id']} for {body['customer_id']}: 2 x {sku}"
    # Postage comes with the routing: the total is what the checkout answered
    charged = f"${order['total_cents'] // 100}.{order['total_cents'] % 100:02d}"
    said = await details(parent, "charged ")
    assert said == f"charged {charged}; waiting for Brakes Co: awaiting shipment"
    child = temporal.get_workflow_handle(order["vendor_orders"][0]["workflow_id"])
    child_summary = await (await child.describe()).static_summary()
    assert child_summary == f"Brakes Co's part of {order['id']}: 2 x {sku} ({charged})"
    said = await details(child, "waiting for ")
    assert said.startswith("waiting for Brakes Co to ship, SLA ends ") and said.endswith(" UTC")
