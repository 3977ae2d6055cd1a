"""Held stock never leaks: a workflow terminated by hand loses its hold to the reaper, while
live workflows keep theirs by renewing it."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx

from devstack.stack import DevStack, Ports
from temporal.client import connect
from tests.e2e.client import OPS, inventory, onboard, order_body, place, stock_product
from tests.metrics_helpers import scrape, value

EXPIRED = "fulfillment_reservation_expired_units_total"


async def test_a_terminated_workflows_stock_is_released_and_a_live_one_keeps_its_hold(
    tmp_path: Path,
) -> None:
    stack = DevStack(
        tmp_path,
        Ports.free(),
        overrides={
            "FULFILLMENT_ENV": "test",
            "FULFILLMENT_TASK_QUEUE": "fulfillment-reaper",
            # Long enough that a loaded machine (two test processes) still renews in time.
            "FULFILLMENT_RESERVATION_HOLD": "4",
            "FULFILLMENT_REAPER_INTERVAL": "0.5",
        },
    )
    stack.start(log=lambda _: None)
    try:
        async with httpx.AsyncClient(base_url=stack.api_url, timeout=60) as api:
            seller = await onboard(api, "Reaped")
            sku = await stock_product(api, seller, price_cents=1000, on_hand=10)
            abandoned = (await place(api, order_body([(sku, 3)]))).json()
            live = (await place(api, order_body([(sku, 2)]))).json()
            assert (await inventory(api, sku))["reserved"] == 5

            temporal = await connect(stack.env["TEMPORAL_ADDRESS"])
            for workflow_id in (
                abandoned["workflow_id"],
                abandoned["vendor_orders"][0]["workflow_id"],
            ):
                await temporal.get_workflow_handle(workflow_id).terminate("operator test")

            for _ in range(120):
                if (await inventory(api, sku))["reserved"] == 2:
                    break
                await asyncio.sleep(0.25)
            # Two hold periods later the live order still has its stock.
            await asyncio.sleep(8)
            level = await inventory(api, sku)
            assert (level["on_hand"], level["reserved"], level["available"]) == (10, 2, 8)
            moves = (await api.get(f"/v1/inventory/{sku}/movements", headers=OPS)).json()["data"]
            reaped = [m for m in moves if m["actor"] == "reaper"]
            assert [(m["order_id"], m["reserved_delta"]) for m in reaped] == [(abandoned["id"], -3)]
            # The worker counts what it gave back, in units (issue 12's metrics).
            expired = value(await scrape(stack.worker_metrics_url), EXPIRED, {})
            assert expired == 3.0
            shipped = await api.post(
                f"/v1/vendor/orders/{live['vendor_orders'][0]['id']}/ship",
                json={"carrier": "ups", "tracking_number": "1Z"},
                headers=seller.auth,
            )
            assert shipped.status_code == 200, shipped.text
            assert (await inventory(api, sku))["on_hand"] == 8
    finally:
        stack.stop(log=lambda _: None)
