"""The operator's command line against the running stack, run as a separate process with
nothing set but the stack's data folder: what needs a person (longest waiting first), one
order's whole file, and a failed payout retried at once. Payouts fail for real here: the
vendor's Stripe account is restricted in the emulator after delivery."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from pathlib import Path
from subprocess import CompletedProcess
from typing import Any

import httpx
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent

from devstack.stack import DevStack
from jobs.ops_report import NOTHING_STUCK
from temporal.client import connect
from temporal.names import Activity, Signal
from tests.devstack.test_cli_devstack import clean_env, fulfillment
from tests.e2e.client import PLATFORM, Seller, onboard, order_body, place, stock_product
from tests.e2e.money import emulator, restrict, ship_and_deliver, vendor_order


def command(stack: DevStack, tmp_path: Path, *args: str) -> CompletedProcess[str]:
    return fulfillment("--data-dir", str(stack.data_dir), *args, cwd=tmp_path, env=clean_env())


async def flagged(api: httpx.AsyncClient, order_id: str, reason: str) -> None:
    for _ in range(150):
        if (await vendor_order(api, order_id))["attention"] == reason:
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"{order_id} was never flagged {reason}")


async def placed(api: httpx.AsyncClient, seller: Seller, sku: str, quantity: int = 1) -> Any:
    answer = await place(api, order_body([(sku, quantity)]))
    assert answer.status_code == 201, answer.text
    return answer.json()


async def payout_refused(api: httpx.AsyncClient, seller: Seller, sku: str) -> dict[str, Any]:
    """An order delivered whose payout the restricted account refused: flagged payout_failed."""
    order: dict[str, Any] = await placed(api, seller, sku)
    await ship_and_deliver(api, seller, order["vendor_orders"][0]["id"])
    await flagged(api, order["id"], "payout_failed")
    return order


async def history_of(stack: DevStack, workflow_id: str) -> list[HistoryEvent]:
    temporal = await connect(stack.env["TEMPORAL_ADDRESS"])
    return list((await temporal.get_workflow_handle(workflow_id).fetch_history()).events)


def signals_in(history: list[HistoryEvent]) -> list[str]:
    return [
        event.workflow_execution_signaled_event_attributes.signal_name
        for event in history
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED
    ]


def attempt_after_a_signal(history: list[HistoryEvent]) -> bool:
    try:
        payout_attempt_after_the_signal(history)
    except StopIteration:
        return False
    return True


def payout_attempt_after_the_signal(history: list[HistoryEvent]) -> tuple[datetime, datetime]:
    """When the next payout attempt was scheduled after the signal, and when the backoff
    timer running at the signal would have fired."""
    signal = next(
        i
        for i, e in enumerate(history)
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED
    )
    timer = next(
        e for e in reversed(history[:signal]) if e.event_type == EventType.EVENT_TYPE_TIMER_STARTED
    )
    fires = timer.event_time.ToDatetime() + (
        timer.timer_started_event_attributes.start_to_fire_timeout.ToTimedelta()
    )
    attempt = next(
        e
        for e in history[signal:]
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
        and e.activity_task_scheduled_event_attributes.activity_type.name == Activity.PAY_VENDOR
    )
    return attempt.event_time.ToDatetime(), fires


async def test_failed_payouts_wait_for_a_person_longest_first_and_retry_at_once_when_told(
    api: httpx.AsyncClient, stack: DevStack, tmp_path: Path
) -> None:
    seller = await onboard(api, "CliStuck")
    sku = await stock_product(api, seller, price_cents=2500, on_hand=5)
    async with emulator(stack) as control:
        await restrict(control, seller.account, True)
        try:
            first = await payout_refused(api, seller, sku)
            second = await payout_refused(api, seller, sku)

            listed = command(stack, tmp_path, "orders", "stuck", "--vendor", seller.id, "--json")
            only_failed = command(
                stack, tmp_path, "orders", "stuck", "--reason", "payout_failed", "--limit", "1000"
            )
            # Still restricted: the retry is refused again, but it happens now.
            retried = command(stack, tmp_path, "retry-payout", first["vendor_orders"][0]["id"])
            workflow_id = first["vendor_orders"][0]["workflow_id"]
            history = await history_of(stack, workflow_id)
            for _ in range(100):
                if attempt_after_a_signal(history):
                    break
                await asyncio.sleep(0.2)
                history = await history_of(stack, workflow_id)
        finally:
            await restrict(control, seller.account, False)

    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)
    assert [(r["order_id"], r["vendor_order_id"], r["reason"]) for r in rows] == [
        (first["id"], first["vendor_orders"][0]["id"], "payout_failed"),
        (second["id"], second["vendor_orders"][0]["id"], "payout_failed"),
    ]
    assert [(r["vendor_id"], r["status"]) for r in rows] == [(seller.id, "delivered")] * 2
    assert rows[0]["since"] < rows[1]["since"]
    assert rows[0]["waiting_seconds"] >= rows[1]["waiting_seconds"] >= 0
    # A person reads a table: both vendor orders, the older one first.
    assert only_failed.returncode == 0, only_failed.stderr
    table = only_failed.stdout
    first_vo, second_vo = first["vendor_orders"][0]["id"], second["vendor_orders"][0]["id"]
    assert table.index(first_vo) < table.index(second_vo)
    assert "payout_failed" in table and "Waiting for a person" in table
    # Told to retry: the workflow got the signal and tried again before its backoff was over.
    assert retried.returncode == 0, retried.stderr
    assert retried.stdout == f"asked {workflow_id} to retry its payout now\n"
    assert signals_in(history) == [Signal.RETRY_PAYOUT]
    attempted, backoff_over = payout_attempt_after_the_signal(history)
    assert attempted < backoff_over


async def test_a_payout_cannot_be_retried_once_the_vendor_order_is_closed(
    api: httpx.AsyncClient, stack: DevStack, tmp_path: Path
) -> None:
    seller = await onboard(api, "CliClosed")
    sku = await stock_product(api, seller, price_cents=900, on_hand=5)
    order = await placed(api, seller, sku)
    vo = order["vendor_orders"][0]
    cancelled = await api.post(f"/v1/orders/{order['id']}/cancel", json={}, headers=PLATFORM)
    assert cancelled.status_code == 200, cancelled.text
    temporal = await connect(stack.env["TEMPORAL_ADDRESS"])
    await temporal.get_workflow_handle(vo["workflow_id"]).result()

    refused = command(stack, tmp_path, "retry-payout", vo["id"])

    assert (refused.returncode, refused.stdout) == (1, "")
    assert refused.stderr.splitlines()[-1] == (
        f"cannot retry the payout of {vo['id']}: its workflow {vo['workflow_id']} is not"
        " running (completed)"
    )
    assert signals_in(await history_of(stack, vo["workflow_id"])) == []


async def test_an_order_shows_its_timeline_money_stock_and_workflow_links(
    api: httpx.AsyncClient, stack: DevStack, tmp_path: Path
) -> None:
    seller = await onboard(api, "CliShow")
    sku = await stock_product(api, seller, price_cents=1800, on_hand=5)
    order = await placed(api, seller, sku, quantity=2)
    vo = order["vendor_orders"][0]
    shipped = await api.post(
        f"/v1/vendor/orders/{vo['id']}/ship",
        json={"carrier": "ups", "tracking_number": "1ZCLI"},
        headers=seller.auth,
    )
    assert shipped.status_code == 200, shipped.text

    as_json = command(stack, tmp_path, "order", "show", order["id"], "--json")
    for_people = command(stack, tmp_path, "order", "show", order["id"])

    assert as_json.returncode == 0, as_json.stderr
    shown = json.loads(as_json.stdout)
    assert shown["order"]["id"] == order["id"]
    events = [e["type"] for e in shown["order"]["events"]]
    assert events.index("order.confirmed") < events.index("vendor_order.shipped")
    (vendor,) = shown["order"]["vendor_orders"]
    assert (vendor["status"], vendor["tracking_number"]) == ("shipped", "1ZCLI")
    money = shown["money"]
    assert money["charged_cents"] == order["total_cents"] > 0
    assert money["vendor_orders"][vo["id"]] == {
        "commission_cents": 360,  # 10% of 2 x 1800
        "refunded_cents": 0,
        "payout_cents": 3600 + vo["shipping_cents"] - 360,
        "paid_cents": 0,
        "transferred_cents": 0,
        "reversed_cents": 0,
        "payout_status": "pending",
    }
    assert [(s["sku"], s["quantity"]) for s in shown["stock"]] == [(sku, 2)]
    assert shown["links"] == {
        order["id"]: f"http://127.0.0.1:8233/namespaces/default/workflows/order-{order['id']}",
        vo["id"]: "http://127.0.0.1:8233/namespaces/default/workflows/"
        f"order-{order['id']}-vendor-{seller.id}",
    }
    assert for_people.returncode == 0, for_people.stderr
    for expected in ("Timeline", "vendor_order.shipped", "Stock held", "1ZCLI", vo["id"]):
        assert expected in for_people.stdout
    assert shown["links"][vo["id"]] in for_people.stdout


def test_unknown_ids_are_refused_with_exit_1_and_nothing_stuck_is_said_plainly(
    stack: DevStack, tmp_path: Path
) -> None:
    order = command(stack, tmp_path, "order", "show", "ord_does_not_exist")
    payout = command(stack, tmp_path, "retry-payout", "vo_does_not_exist")
    nobody = command(stack, tmp_path, "orders", "stuck", "--vendor", "ven_nobody")

    assert (order.returncode, order.stdout) == (1, "")
    assert order.stderr.splitlines()[-1] == "no order ord_does_not_exist"
    assert (payout.returncode, payout.stdout) == (1, "")
    assert payout.stderr.splitlines()[-1] == "no vendor order vo_does_not_exist"
    assert (nobody.returncode, nobody.stdout) == (0, NOTHING_STUCK + "\n")
