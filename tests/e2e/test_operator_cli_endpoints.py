"""A platform endpoint that kept failing is disabled: it is the operator's to chase, so it
appears where the operator looks for what is stuck (`fulfillment orders stuck`) and in its own
listing (`fulfillment webhook-endpoints disabled`), with its URL, since when, the last error and
the deliveries waiting for it; once enabled again it is gone from both."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from devstack.stack import DevStack
from tests.e2e.client import PLATFORM, onboard, order_body, place, stock_product
from tests.e2e.money import eventually
from tests.e2e.platform_receiver import PlatformReceiver, running_receiver
from tests.e2e.test_operator_cli import command
from tests.e2e.webhook_inbox import allowed_webhook_port

pytestmark = pytest.mark.e2e


@pytest.fixture
def receiver(stack: DevStack) -> Iterator[PlatformReceiver]:
    with running_receiver(allowed_webhook_port(stack)) as found:
        yield found


def listed(stack: DevStack, tmp_path: Path) -> list[dict[str, Any]]:
    shown = command(stack, tmp_path, "webhook-endpoints", "disabled", "--json", "--limit", "1000")
    assert shown.returncode == 0, shown.stderr
    rows: list[dict[str, Any]] = json.loads(shown.stdout)
    return rows


async def test_a_disabled_endpoint_waits_for_a_person_with_its_last_error_and_waiting_deliveries(
    api: httpx.AsyncClient, stack: DevStack, tmp_path: Path, receiver: PlatformReceiver
) -> None:
    path = receiver.new_path()
    # With a query the storefront may keep a token in: never printed. (The receiver tells
    # requests apart by path and query.)
    hook = path + "?token=shh"
    receiver.fail_always(hook)
    registered = await api.post(
        "/v1/webhook-endpoints",
        json={"url": receiver.url(hook), "event_types": ["order.confirmed"]},
        headers=PLATFORM,
    )
    assert registered.status_code == 201, registered.text
    endpoint = registered.json()
    url = f"/v1/webhook-endpoints/{endpoint['id']}"
    try:
        seller = await onboard(api, "CliEndpoints")
        sku = await stock_product(api, seller, price_cents=1100, on_hand=5)
        for _ in range(2):  # two orders: two deliveries wait, each the first of its order
            assert (await place(api, order_body([(sku, 1)]))).status_code == 201

        async def disabled() -> dict[str, Any] | None:
            shown = (await api.get(url, headers=PLATFORM)).json()
            return shown if shown["status"] == "disabled" else None

        shown = await eventually(disabled, within=30)
        rows = listed(stack, tmp_path)
        table = command(stack, tmp_path, "webhook-endpoints", "disabled", "--limit", "1000")
        for_people = command(stack, tmp_path, "orders", "stuck", "--limit", "1000")
        filtered = command(stack, tmp_path, "orders", "stuck", "--vendor", seller.id)

        receiver.fail_always(hook, failing=False)
        enabled = await api.post(f"{url}/enable", headers=PLATFORM)
        assert enabled.status_code == 200, enabled.text
        after = listed(stack, tmp_path)
    finally:
        await api.delete(url, headers=PLATFORM)

    (row,) = [r for r in rows if r["endpoint_id"] == endpoint["id"]]
    assert row["url"] == receiver.url(path) + "?…"
    assert datetime.fromisoformat(row["disabled_since"]) == datetime.fromisoformat(
        shown["disabled_at"]
    )
    assert row["disabled_seconds"] >= 0
    assert (row["last_error"], row["deliveries_waiting"]) == ("HTTP 500", 2)
    # For people, a table; and where the operator looks for what is stuck, after the vendor
    # orders.
    for printed in (table, for_people):
        assert printed.returncode == 0, printed.stderr
        assert "Platform endpoints disabled" in printed.stdout
        assert endpoint["id"] in printed.stdout and "HTTP 500" in printed.stdout
        assert "shh" not in printed.stdout
    assert "shh" not in json.dumps(rows)
    # A question about one vendor is not about the platform's endpoints.
    assert filtered.returncode == 0, filtered.stderr
    assert "Platform endpoints disabled" not in filtered.stdout
    # Enabled again: no longer waiting for a person.
    assert endpoint["id"] not in [r["endpoint_id"] for r in after]
