"""What people graph: the API's and the worker's `GET /metrics`, scraped from the running stack.

Counters are the process's since it started, and the stack is shared by the session: every
assert compares a scrape before with one after.
"""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from devstack.stack import DevStack
from stores.db import connect_redis
from stores.stock_gate import StockGate
from tests.e2e.client import onboard, order_body, place, stock_product
from tests.e2e.money import eventually, payout_refused, wait_for_order
from tests.metrics_helpers import scrape, value


async def test_a_confirmed_checkout_moves_the_checkout_counter_and_its_latency_histogram(
    api: httpx.AsyncClient, stack: DevStack
) -> None:
    seller = await onboard(api, "Metered")
    sku = await stock_product(api, seller, price_cents=1500, on_hand=5)
    before = await scrape(f"{stack.api_url}/metrics")
    placed = await place(api, order_body([(sku, 1)]))
    assert placed.status_code == 201, placed.text
    after = await scrape(f"{stack.api_url}/metrics")
    confirmed = {"outcome": "confirmed", "code": "none"}
    assert value(after, "fulfillment_checkouts_total", confirmed) == (
        value(before, "fulfillment_checkouts_total", confirmed) + 1
    )
    count = "fulfillment_checkout_seconds_count"
    assert value(after, count, {"outcome": "confirmed"}) == (
        value(before, count, {"outcome": "confirmed"}) + 1
    )
    # The checkout took more than nothing and less than its timeout.
    spent = value(after, "fulfillment_checkout_seconds_sum", {"outcome": "confirmed"}) - value(
        before, "fulfillment_checkout_seconds_sum", {"outcome": "confirmed"}
    )
    assert 0 < spent < 45


async def test_a_sold_out_checkout_counts_a_gate_refusal_and_a_refused_checkout(
    api: httpx.AsyncClient, stack: DevStack
) -> None:
    seller = await onboard(api, "Soldout")
    sku = await stock_product(api, seller, price_cents=1500, on_hand=1)
    redis = connect_redis(stack.env["REDIS_URL"])
    try:
        gate = StockGate(redis)

        async def gate_knows() -> bool:
            return await gate.is_built() and await gate.available(sku) == 1

        await eventually(gate_knows, within=30)
    finally:
        await redis.aclose()
    before = await scrape(f"{stack.api_url}/metrics")
    refused = await place(api, order_body([(sku, 2)]))
    assert (refused.status_code, refused.json()["code"]) == (409, "insufficient_stock")
    after = await scrape(f"{stack.api_url}/metrics")
    sold_out = {"reason": "insufficient_stock"}
    assert value(after, "fulfillment_gate_refusals_total", sold_out) == (
        value(before, "fulfillment_gate_refusals_total", sold_out) + 1
    )
    refusal = {"outcome": "refused", "code": "insufficient_stock"}
    assert value(after, "fulfillment_checkouts_total", refusal) == (
        value(before, "fulfillment_checkouts_total", refusal) + 1
    )
    # Nothing was confirmed by it.
    confirmed = {"outcome": "confirmed", "code": "none"}
    assert value(after, "fulfillment_checkouts_total", confirmed) == value(
        before, "fulfillment_checkouts_total", confirmed
    )


async def test_the_workers_metrics_carry_the_temporal_sdks_own_and_the_business_state(
    api: httpx.AsyncClient, stack: DevStack
) -> None:
    async with payout_refused(api, stack, "Flagged") as (_, order):

        async def counted() -> list[Sample] | None:
            samples = await scrape(stack.worker_metrics_url)
            reason = {"reason": "payout_failed"}
            found = value(samples, "fulfillment_vendor_orders_needing_attention", reason)
            return samples if found >= 1 else None

        samples = await eventually(counted, within=30)  # the state is cached for a few seconds
        failed = value(samples, "fulfillment_payouts_cents", {"state": "failed"}, total=True)
        assert failed >= order["vendor_orders"][0]["payout_cents"] > 0
        assert value(samples, "fulfillment_orders", {"status": "in_fulfillment"}) >= 1
    await wait_for_order(api, order["id"], "completed", within=30)
    names = {sample.name for sample in samples}
    # The SDK's own: workflow task latency, free task slots, the sticky cache.
    assert "temporal_workflow_task_execution_latency_seconds_count" in names, sorted(names)
    assert any(name.startswith("temporal_worker_task_slots_available") for name in names)
    assert any(name.startswith("temporal_sticky_cache_size") for name in names)


async def test_both_endpoints_parse_as_prometheus_text_without_a_name_twice(
    stack: DevStack,
) -> None:
    async with httpx.AsyncClient(timeout=30) as client:
        for url in (f"{stack.api_url}/metrics", stack.worker_metrics_url):
            answer = await client.get(url)
            assert answer.status_code == 200
            assert answer.headers["content-type"].startswith("text/plain")
            families = [family.name for family in text_string_to_metric_families(answer.text)]
            assert families and len(families) == len(set(families)), url
            # "# TYPE" once per family: a name served by two collectors would show twice.
            types = [
                line.split()[2] for line in answer.text.splitlines() if line.startswith("# TYPE")
            ]
            assert len(types) == len(set(types)), url
