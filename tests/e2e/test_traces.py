"""One trace per request across the saga (issue 12): the checkout from the request through
the update-with-start, the workflow, every activity and the call to Stripe; a vendor's ship
request through its update to the call to Shippo. Read from the span file the dev stack writes
(FULFILLMENT_TRACES=file:..., models/tracing.py), as a developer would with `jq`."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

import httpx

from devstack.stack import DevStack
from tests.e2e.client import PLATFORM, onboard, order_body, stock_product
from tests.e2e.money import eventually

PARCEL = {"length_cm": 30, "width_cm": 20, "height_cm": 10, "weight_grams": 1200}
# What a checkout runs before it answers (workflows/order.py), each as StartActivity and
# RunActivity spans.
CHECKOUT_ACTIVITIES = [
    "inventory.load_catalog",
    "orders.create",
    "inventory.reserve",
    "orders.set_totals",
    "payments.charge",
    "orders.confirm",
]


@dataclass
class Trace:
    spans: list[dict[str, Any]]

    def children(self, span: dict[str, Any], name: str | None = None) -> list[dict[str, Any]]:
        return [
            s
            for s in self.spans
            if s["parent_id"] == span["span_id"] and (name is None or s["name"] == name)
        ]

    def only_child(self, span: dict[str, Any], name: str) -> dict[str, Any]:
        found = self.children(span, name)
        assert len(found) == 1, (name, [s["name"] for s in self.children(span)])
        return found[0]


def traceparent() -> tuple[str, str, str]:
    trace_id, span_id = uuid.uuid4().hex, uuid.uuid4().hex[:16]
    return trace_id, span_id, f"00-{trace_id}-{span_id}-01"


def spans_of(stack: DevStack, trace_id: str) -> list[dict[str, Any]]:
    path = stack.data_dir / "traces.jsonl"
    text = path.read_text() if path.exists() else ""
    # Read as it grows: the last line may not be all there yet.
    lines = text[: text.rfind("\n") + 1].splitlines()
    return [span for span in map(json.loads, lines) if span["trace_id"] == trace_id]


def orphans(spans: list[dict[str, Any]], caller_span: str) -> list[str]:
    """Spans that do not hang from the caller's span through spans of this trace."""
    ids = {s["span_id"] for s in spans}
    return [s["name"] for s in spans if s["parent_id"] not in ids | {caller_span}]


async def trace_when(stack: DevStack, trace_id: str, caller: str, last_span: str) -> Trace:
    """The trace once the span expected last is written and every span's parent is (each
    process sends its spans in batches of its own)."""

    async def written() -> Trace | None:
        spans = spans_of(stack, trace_id)
        names = {s["name"] for s in spans}
        return Trace(spans) if last_span in names and not orphans(spans, caller) else None

    try:
        trace: Trace = await eventually(written)
    except AssertionError:
        spans = spans_of(stack, trace_id)
        raise AssertionError(f"orphans {orphans(spans, caller)} of {len(spans)} spans") from None
    return trace


async def test_a_checkout_is_one_trace_from_the_request_to_the_charge_at_stripe(
    api: httpx.AsyncClient, stack: DevStack
) -> None:
    seller = await onboard(api, "Brakes Co", email="brakes@example.com")
    sku = await stock_product(api, seller, price_cents=2500, on_hand=5)
    trace_id, caller, header = traceparent()
    answer = await api.post(
        "/v1/orders",
        json=order_body([(sku, 1)]),
        headers={**PLATFORM, "Idempotency-Key": uuid.uuid4().hex, "traceparent": header},
    )
    assert answer.status_code == 201, answer.text
    order = answer.json()
    trace = await trace_when(stack, trace_id, caller, "RunWorkflow:VendorOrderWorkflow")

    # The storefront's span is the parent of the API's request span.
    (request,) = [s for s in trace.spans if s["parent_id"] == caller]
    assert (request["service"], request["name"], request["kind"]) == (
        "fulfillment-api",
        "POST /v1/orders",
        "server",
    )
    # The request's span names the order it made, for a trace store's search.
    assert request["attributes"]["fulfillment.order_id"] == order["id"]
    start = trace.only_child(request, "StartUpdateWithStartWorkflow:OrderWorkflow")
    assert start["attributes"]["temporalWorkflowID"] == order["workflow_id"]
    worker = trace.children(start)
    assert {s["service"] for s in worker} == {"fulfillment-worker"}
    names = [s["name"] for s in worker]
    for expected in ("RunWorkflow:OrderWorkflow", "HandleUpdate:checkout"):
        assert names.count(expected) == 1, names
    for activity in CHECKOUT_ACTIVITIES:
        scheduled = trace.only_child(start, f"StartActivity:{activity}")
        ran = trace.only_child(scheduled, f"RunActivity:{activity}")
        assert ran["attributes"]["temporalWorkflowID"] == order["workflow_id"]
    # The charge's span holds the HTTP call Stripe's client made, to the emulator.
    charge = trace.only_child(
        trace.only_child(start, "StartActivity:payments.charge"), "RunActivity:payments.charge"
    )
    (call,) = trace.children(charge)
    assert call["kind"] == "client" and call["name"] == "POST"
    assert call["attributes"]["http.url"] == f"{stack.env['STRIPE_API_BASE']}/v1/payment_intents"
    # The vendor's part is a child workflow in the same trace.
    child = trace.only_child(start, "StartChildWorkflow:VendorOrderWorkflow")
    run = trace.only_child(child, "RunWorkflow:VendorOrderWorkflow")
    assert run["attributes"]["temporalWorkflowID"] == order["vendor_orders"][0]["workflow_id"]


async def test_a_vendors_ship_request_is_one_trace_down_to_the_label_bought_at_shippo(
    api: httpx.AsyncClient, stack: DevStack
) -> None:
    seller = await onboard(api, "Label Co", email="label@example.com")
    sku = await stock_product(api, seller, price_cents=1800, on_hand=3)
    placed = await api.post(
        "/v1/orders",
        json=order_body([(sku, 1)]),
        headers={**PLATFORM, "Idempotency-Key": uuid.uuid4().hex},
    )
    assert placed.status_code == 201, placed.text
    vendor_order = placed.json()["vendor_orders"][0]
    trace_id, caller, header = traceparent()
    shipped = await api.post(
        f"/v1/vendor/orders/{vendor_order['id']}/ship",
        json={"purchase_label": True, "parcel": PARCEL},
        headers={**seller.auth, "traceparent": header},
    )
    assert shipped.status_code == 200, shipped.text
    trace = await trace_when(stack, trace_id, caller, "RunActivity:shipping.buy_label")
    (request,) = [s for s in trace.spans if s["parent_id"] == caller]
    assert request["name"] == "POST /v1/vendor/orders/{vendor_order_id}/ship"
    assert request["attributes"]["fulfillment.vendor_order_id"] == vendor_order["id"]
    update = trace.only_child(request, "StartWorkflowUpdate:ship")
    assert update["attributes"]["temporalWorkflowID"] == vendor_order["workflow_id"]
    # The handler and what it schedules hang from the update, as a workflow's do from its
    # start (Temporal's interceptor makes workflow spans as instants, not as parents).
    trace.only_child(update, "HandleUpdate:ship")
    bought = trace.only_child(
        trace.only_child(update, "StartActivity:shipping.buy_label"),
        "RunActivity:shipping.buy_label",
    )
    calls = trace.children(bought)
    shippo = stack.env["SHIPPO_API_BASE"].rstrip("/")
    assert calls and all(c["attributes"]["http.url"].startswith(shippo) for c in calls), calls
    assert {c["kind"] for c in calls} == {"client"}


async def test_the_shippo_webhook_token_never_reaches_a_span(
    api: httpx.AsyncClient, stack: DevStack
) -> None:
    token = stack.env["SHIPPO_WEBHOOK_TOKEN"]
    trace_id, caller, header = traceparent()
    answer = await api.post(
        f"/v1/webhooks/shippo?token={token}",
        json={"event": "track_updated", "data": {"tracking_number": "none-such"}},
        headers={"traceparent": header},
    )
    assert answer.status_code < 500, answer.text
    trace = await trace_when(stack, trace_id, caller, "POST /v1/webhooks/shippo")
    (request,) = trace.spans
    assert request["attributes"]["http.url"].endswith("?token=REDACTED")
    assert token not in json.dumps(spans_of(stack, trace_id))
