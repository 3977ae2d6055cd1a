"""Bad input is a 4xx that names what is wrong, and changes nothing (issue 9, item 13).

Each of these answered 500 (or left a saga retrying for ever) before: a NUL character where
it reaches PostgreSQL, a stock level pushed past its 32-bit column, a signed Stripe event
without `data.object`, and an operator's free-text refund reason sent to Stripe.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import httpx
import pytest
import stripe
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from devstack.stack import DevStack
from domain.ids import order_id_for_idempotency_key, order_workflow_id
from models.settings import DEV_WEBHOOK_SECRET
from models.stock import MAX_ON_HAND
from providers.stripe_adapter import StripeGateway
from tests.e2e.client import (
    OPS,
    PLATFORM,
    inventory,
    onboard,
    order_body,
    place,
    stock_product,
)
from tests.e2e.snapshot import connect, snapshot

NUL_MESSAGE = "must not contain the NUL character (U+0000)"


def refused(answer: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = answer.json()
    assert (body["status"], body["code"]) == (status, code)
    return body


def with_nul(body: dict[str, Any], path: tuple[str | int, ...]) -> dict[str, Any]:
    changed = json.loads(json.dumps(body))
    target = changed
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = f"a\x00{target[path[-1]]}"
    return changed


@pytest.mark.parametrize(
    "field",
    [
        ("customer_id",),
        ("payment_method",),
        ("lines", 0, "sku"),
        ("shipping_address", "line1"),
        ("shipping_address", "city"),
    ],
    ids=lambda path: ".".join(map(str, path)),
)
async def test_a_checkout_with_a_nul_is_422_naming_the_field_and_starts_no_saga(
    api: httpx.AsyncClient, stack: DevStack, field: tuple[str | int, ...]
) -> None:
    seller = await onboard(api, "Nulbuyer")
    sku = await stock_product(api, seller, price_cents=1000, on_hand=5)
    key = uuid.uuid4().hex
    with connect(stack.env["DATABASE_URL"]) as db:
        before = snapshot(db, [seller.id])
        answer = await place(api, with_nul(order_body([(sku, 1)]), field), key)
        body = refused(answer, 422, "validation_error")
        assert [(e["loc"], e["msg"]) for e in body["errors"]] == [(["body", *field], NUL_MESSAGE)]
        assert snapshot(db, [seller.id]) == before
    temporal = await Client.connect(stack.env["TEMPORAL_ADDRESS"])
    workflow_id = order_workflow_id(order_id_for_idempotency_key("platform", key))
    with pytest.raises(RPCError) as missing:
        await temporal.get_workflow_handle(workflow_id).describe()
    assert missing.value.status == RPCStatusCode.NOT_FOUND


async def test_a_nul_in_a_title_a_warehouse_name_or_a_stock_reason_is_422_and_writes_nothing(
    api: httpx.AsyncClient, stack: DevStack
) -> None:
    seller = await onboard(api, "Nulvendor")
    sku = await stock_product(api, seller, price_cents=1000, on_hand=5)
    product = {
        "vendor_id": seller.id,
        "sku": f"{sku}-2",
        "title": "Pad\x00",
        "price_cents": 1,
        "currency": "usd",
        "weight_grams": 1,
    }
    warehouse = {
        "name": "W\x00",
        "postal_code": "1",
        "country": "US",
        "latitude": 0,
        "longitude": 0,
    }
    calls = [
        ("POST", "/v1/products", product, ["body", "title"]),
        ("POST", f"/v1/vendors/{seller.id}/warehouses", warehouse, ["body", "name"]),
        (
            "POST",
            f"/v1/inventory/{sku}/{seller.warehouse_id}/adjustments",
            {"delta": 1, "reason": "found\x00"},
            ["body", "reason"],
        ),
        ("GET", f"/v1/inventory/{sku}%00/movements", None, ["path", "sku"]),
        ("GET", f"/v1/ops/orders?vendor_id={seller.id}%00", None, ["query", "vendor_id"]),
    ]
    with connect(stack.env["DATABASE_URL"]) as db:
        before = snapshot(db, [seller.id])
        for method, url, body, loc in calls:
            headers = OPS if url.startswith("/v1/ops") else seller.auth
            answer = await api.request(method, url, json=body, headers=headers)
            problem = refused(answer, 422, "validation_error")
            assert [e["loc"] for e in problem["errors"]] == [loc], url
        assert snapshot(db, [seller.id]) == before


async def test_stock_cannot_be_pushed_past_its_limit_by_adjustments_and_stays_as_it_was(
    api: httpx.AsyncClient, stack: DevStack
) -> None:
    seller = await onboard(api, "Overflow")
    sku = await stock_product(api, seller, price_cents=1000, on_hand=MAX_ON_HAND)
    adjust = f"/v1/inventory/{sku}/{seller.warehouse_id}/adjustments"
    with connect(stack.env["DATABASE_URL"]) as db:
        before = snapshot(db, [seller.id])
        for delta in (1, MAX_ON_HAND):
            answer = await api.post(
                adjust, json={"delta": delta, "reason": "recount"}, headers=seller.auth
            )
            body = refused(answer, 422, "validation_error")
            assert (body["limit"], body["field"], body["on_hand"]) == (
                MAX_ON_HAND,
                "delta",
                MAX_ON_HAND,
            )
        too_big = await api.post(
            adjust, json={"delta": MAX_ON_HAND + 1, "reason": "r"}, headers=seller.auth
        )
        assert [e["loc"] for e in refused(too_big, 422, "validation_error")["errors"]] == [
            ["body", "delta"]
        ]
        assert snapshot(db, [seller.id]) == before
    assert (await inventory(api, sku))["on_hand"] == MAX_ON_HAND
    taken = await api.post(adjust, json={"delta": -5, "reason": "sold"}, headers=seller.auth)
    assert (taken.status_code, taken.json()["on_hand"]) == (200, MAX_ON_HAND - 5)


def signed(event: dict[str, Any]) -> tuple[str, dict[str, str]]:
    payload = json.dumps(event)
    header = stripe.WebhookSignature.generate_signature_header(payload, DEV_WEBHOOK_SECRET)
    return payload, {"Stripe-Signature": header, "content-type": "application/json"}


@pytest.mark.parametrize(
    "data",
    [{}, {"object": None}, {"object": "ch_1"}, {"object": []}],
    ids=["no object", "null object", "a string", "a list"],
)
async def test_a_signed_stripe_event_without_a_data_object_is_400_and_not_recorded(
    api: httpx.AsyncClient, stack: DevStack, data: dict[str, Any]
) -> None:
    event_id = f"evt_{uuid.uuid4().hex[:16]}"
    event = {
        "id": event_id,
        "object": "event",
        "type": "charge.refunded",
        "created": int(time.time()),
        "data": data,
    }
    payload, headers = signed(event)
    answer = await api.post("/v1/webhooks/stripe", content=payload, headers=headers)
    # The webhook router answers every refused parse as invalid_signature (400).
    body = refused(answer, 400, "invalid_signature")
    assert "data.object" in body["detail"]
    with connect(stack.env["DATABASE_URL"]) as db:
        seen = db.execute("SELECT count(*) FROM webhook_event WHERE id = %s", (event_id,))
        assert seen.fetchone() == (0,)


async def test_a_signed_refund_event_whose_id_is_longer_than_its_column_is_400_not_500(
    api: httpx.AsyncClient, stack: DevStack
) -> None:
    event_id = f"evt_{uuid.uuid4().hex[:16]}"
    event = {
        "id": event_id,
        "object": "event",
        "type": "refund.created",
        "created": int(time.time()),
        "data": {
            "object": {
                "id": "re_" + "x" * 100,
                "object": "refund",
                "amount": 100,
                "status": "succeeded",
                "payment_intent": "pi_unknown",
                "metadata": {},
            }
        },
    }
    payload, headers = signed(event)
    answer = await api.post("/v1/webhooks/stripe", content=payload, headers=headers)
    assert answer.status_code == 400, answer.text
    with connect(stack.env["DATABASE_URL"]) as db:
        seen = db.execute("SELECT count(*) FROM webhook_event WHERE id = %s", (event_id,))
        assert seen.fetchone() == (0,)


async def test_an_ops_refund_keeps_the_operators_words_and_sends_stripe_an_allowed_reason(
    api: httpx.AsyncClient, stripe: StripeGateway
) -> None:
    seller = await onboard(api, "Noted")
    sku = await stock_product(api, seller, price_cents=4000, on_hand=5)
    order = (await place(api, order_body([(sku, 1)]))).json()
    vendor_order = order["vendor_orders"][0]
    note = "Parcel arrived crushed; goodwill gesture agreed by phone"
    request = {
        "url": f"/v1/ops/vendor-orders/{vendor_order['id']}/refunds",
        "json": {"amount_cents": 700, "reason": note},
        "headers": {**OPS, "Idempotency-Key": uuid.uuid4().hex},
    }
    first = await api.post(**request)
    again = await api.post(**request)
    assert (first.status_code, again.status_code) == (200, 200), first.text
    assert first.json()["refunded_cents"] == again.json()["refunded_cents"] == 700
    intent = (await stripe.list_payment_intents_for(f"order-{order['id']}"))[0]
    refunds = await stripe.list_refunds(intent["id"])
    assert [(r["amount"], r["reason"]) for r in refunds] == [(700, "requested_by_customer")]
    events = (await api.get(f"/v1/orders/{order['id']}", headers=PLATFORM)).json()["events"]
    notes = [e for e in events if e["type"] == "vendor_order.refund_note"]
    assert [(e["vendor_order_id"], e["detail"]) for e in notes] == [
        (
            vendor_order["id"],
            {
                "note": note,
                "amount_cents": 700,
                "stripe_reason": "requested_by_customer",
                "by": "ops",
            },
        )
    ]


async def test_an_ops_refund_with_one_of_stripes_reasons_sends_that_reason(
    api: httpx.AsyncClient, stripe: StripeGateway
) -> None:
    seller = await onboard(api, "Fraud")
    sku = await stock_product(api, seller, price_cents=4000, on_hand=5)
    order = (await place(api, order_body([(sku, 1)]))).json()
    answer = await api.post(
        f"/v1/ops/vendor-orders/{order['vendor_orders'][0]['id']}/refunds",
        json={"amount_cents": 4000, "reason": "fraudulent"},
        headers={**OPS, "Idempotency-Key": uuid.uuid4().hex},
    )
    assert answer.status_code == 200, answer.text
    intent = (await stripe.list_payment_intents_for(f"order-{order['id']}"))[0]
    refunds = await stripe.list_refunds(intent["id"])
    assert [(r["amount"], r["reason"]) for r in refunds] == [(4000, "fraudulent")]
