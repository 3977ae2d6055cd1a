"""Orders in flight when the stack stops carry on when it starts again on the same data."""

from __future__ import annotations

from pathlib import Path

import httpx

from devstack.stack import DevStack, Ports
from tests.e2e.client import onboard, order_body, place, stock_product, wait_for_order


def fresh_stack(data_dir: Path, ports: Ports) -> DevStack:
    return DevStack(
        data_dir,
        ports,
        overrides={
            "FULFILLMENT_ENV": "test",
            "FULFILLMENT_RETURN_WINDOW": "2",
            "FULFILLMENT_TASK_QUEUE": "fulfillment-restart",
        },
    )


async def test_an_order_placed_before_a_restart_is_shipped_delivered_and_paid_after_it(
    tmp_path: Path,
) -> None:
    ports = Ports.free()
    first = fresh_stack(tmp_path, ports)
    first.start(log=lambda _: None)
    try:
        async with httpx.AsyncClient(base_url=first.api_url, timeout=60) as api:
            seller = await onboard(api, "Durable")
            sku = await stock_product(api, seller, price_cents=3000, on_hand=4)
            order = (await place(api, order_body([(sku, 2)]))).json()
    finally:
        first.stop(log=lambda _: None)

    # On the same data, on ports of its own: the ones just released may be taken meanwhile
    # by another test process (two run at once), and nothing kept depends on them.
    second = fresh_stack(tmp_path, Ports.free())
    second.start(log=lambda _: None)
    try:
        async with httpx.AsyncClient(base_url=second.api_url, timeout=60) as api:
            vendor_order = order["vendor_orders"][0]["id"]
            for step, body in (
                ("ship", {"carrier": "ups", "tracking_number": "1Z1"}),
                ("deliver", None),
            ):
                answer = await api.post(
                    f"/v1/vendor/orders/{vendor_order}/{step}", json=body, headers=seller.auth
                )
                assert answer.status_code == 200, answer.text
            done = await wait_for_order(api, order["id"], "completed")
    finally:
        second.stop(log=lambda _: None)
    paid = done["vendor_orders"][0]
    assert (paid["payout_status"], paid["commission_cents"], paid["payout_cents"]) == (
        "released",
        600,
        5400 + paid["shipping_cents"],
    )
