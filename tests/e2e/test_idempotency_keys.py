"""Retries with an Idempotency-Key on the mutating routes, over HTTP against the running stack
(issue 9, item 14): a vendor app whose `ship` answer was lost sends it again and gets the
first answer, never a 409; the work is done once."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import stripe as stripe_sdk
from sqlalchemy import text

from devstack.stack import DevStack
from providers.stripe_adapter import StripeGateway
from stores.db import execute_sql, make_engine, make_sessionmaker
from tests.e2e.client import (
    OPS,
    PLATFORM,
    Seller,
    bearer,
    inventory,
    onboard,
    order_body,
    place,
    stock_product,
    unique,
)
from tests.e2e.money import emulator


def idem() -> str:
    return str(uuid.uuid4())


def with_key(auth: dict[str, str], key: str) -> dict[str, str]:
    return {**auth, "Idempotency-Key": key}


async def confirmed_order(
    api: httpx.AsyncClient, name: str, *, on_hand: int = 6, quantity: int = 2
) -> tuple[Seller, str, dict[str, Any]]:
    seller = await onboard(api, name)
    sku = await stock_product(api, seller, price_cents=1200, on_hand=on_hand)
    placed = await place(api, order_body([(sku, quantity)]))
    assert placed.status_code == 201, placed.text
    return seller, sku, placed.json()


async def ship(
    api: httpx.AsyncClient, seller: Seller, vendor_order_id: str, key: str | None, tracking: str
) -> httpx.Response:
    headers = with_key(seller.auth, key) if key else seller.auth
    return await api.post(
        f"/v1/vendor/orders/{vendor_order_id}/ship",
        json={"carrier": "ups", "tracking_number": tracking},
        headers=headers,
    )


async def events(api: httpx.AsyncClient, order_id: str, kind: str) -> list[dict[str, Any]]:
    order = (await api.get(f"/v1/orders/{order_id}", headers=PLATFORM)).json()
    return [e for e in order["events"] if e["type"] == kind]


async def movements(api: httpx.AsyncClient, seller: Seller, sku: str) -> list[dict[str, Any]]:
    answer = await api.get(
        f"/v1/inventory/{sku}/movements", params={"limit": 200}, headers=seller.auth
    )
    assert answer.status_code == 200, answer.text
    return answer.json()["data"]  # type: ignore[no-any-return]


@pytest.fixture
async def sdk(stack: DevStack) -> AsyncIterator[stripe_sdk.StripeClient]:
    http_client = stripe_sdk.HTTPXClient()
    yield stripe_sdk.StripeClient(
        stack.env["STRIPE_API_KEY"],
        base_addresses={"api": stack.env["STRIPE_API_BASE"]},
        http_client=http_client,
    )
    await http_client.close_async()


async def accounts_for(sdk: stripe_sdk.StripeClient, email: str) -> list[str]:
    """Connected accounts opened for this email, read through the official SDK."""
    found: list[str] = []
    params: dict[str, Any] = {"limit": 100}
    while True:
        page = await sdk.v1.accounts.list_async(params=params)  # type: ignore[arg-type]
        found.extend(account.id for account in page.data if account.email == email)
        if not page.has_more or not page.data:
            return found
        params = {"limit": 100, "starting_after": page.data[-1].id}


async def vendors_named(stack: DevStack, email: str) -> int:
    engine = make_engine(stack.env["DATABASE_URL"], pool_size=1)
    try:
        async with make_sessionmaker(engine)() as session:
            result = await execute_sql(
                session, text("SELECT count(*) FROM vendor WHERE email = :email"), {"email": email}
            )
            return int(result.scalar_one())
    finally:
        await engine.dispose()


# --- ship, deliver, cancel ---


async def test_given_a_shipped_vendor_order_when_the_vendor_retries_ship_with_its_key_then_the_same_200_and_one_shipment(  # noqa: E501
    api: httpx.AsyncClient,
) -> None:
    seller, sku, order = await confirmed_order(api, "Retrier")
    vendor_order = order["vendor_orders"][0]["id"]
    key = idem()
    first = await ship(api, seller, vendor_order, key, "1Z-LOST")
    retry = await ship(api, seller, vendor_order, key, "1Z-LOST")
    assert (first.status_code, retry.status_code) == (200, 200)
    assert retry.json() == first.json()
    assert first.json()["status"] == "shipped"
    assert retry.headers["idempotent-replayed"] == "true"
    assert retry.headers["content-type"] == first.headers["content-type"] == "application/json"
    # Without its key the same retry meets a shipped order: the 409 this fixes.
    unkeyed = await ship(api, seller, vendor_order, None, "1Z-LOST")
    assert (unkeyed.status_code, unkeyed.json()["code"]) == (409, "invalid_state")
    level = await inventory(api, sku)
    assert (level["on_hand"], level["reserved"]) == (4, 0)
    assert len(await events(api, order["id"], "vendor_order.shipped")) == 1


async def test_given_a_key_used_for_a_ship_when_sent_with_another_body_or_path_then_422_and_nothing_changes(  # noqa: E501
    api: httpx.AsyncClient,
) -> None:
    seller, sku, order = await confirmed_order(api, "Reuser")
    vendor_order = order["vendor_orders"][0]["id"]
    key = idem()
    assert (await ship(api, seller, vendor_order, key, "1Z-FIRST")).status_code == 200
    other_body = await ship(api, seller, vendor_order, key, "1Z-OTHER")
    other_path = await api.post(
        f"/v1/vendor/orders/{vendor_order}/deliver", headers=with_key(seller.auth, key)
    )
    for refused in (other_body, other_path):
        assert refused.status_code == 422
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["code"] == "idempotency_key_reused"
    stored = (await api.get(f"/v1/vendor/orders/{vendor_order}", headers=seller.auth)).json()
    assert (stored["status"], stored["tracking_number"], stored["delivered_at"]) == (
        "shipped",
        "1Z-FIRST",
        None,
    )
    level = await inventory(api, sku)
    assert (level["on_hand"], level["reserved"]) == (4, 0)
    assert len(await events(api, order["id"], "vendor_order.shipped")) == 1


async def test_given_one_ship_sent_many_times_at_once_with_one_key_then_all_get_the_one_200_and_it_ships_once(  # noqa: E501
    api: httpx.AsyncClient,
) -> None:
    seller, sku, order = await confirmed_order(api, "Eager")
    vendor_order = order["vendor_orders"][0]["id"]
    key = idem()
    answers = await asyncio.gather(
        *(ship(api, seller, vendor_order, key, "1Z-ONCE") for _ in range(5))
    )
    assert [a.status_code for a in answers] == [200] * 5
    assert all(a.json() == answers[0].json() for a in answers)
    assert answers[0].json()["tracking_number"] == "1Z-ONCE"
    level = await inventory(api, sku)
    assert (level["on_hand"], level["reserved"]) == (4, 0)
    assert len(await events(api, order["id"], "vendor_order.shipped")) == 1
    shipments = [m for m in await movements(api, seller, sku) if m["on_hand_delta"] == -2]
    assert len(shipments) == 1


async def test_given_a_delivered_vendor_order_when_deliver_is_retried_with_its_key_then_the_same_200_once(  # noqa: E501
    api: httpx.AsyncClient,
) -> None:
    seller, _, order = await confirmed_order(api, "Courier")
    vendor_order = order["vendor_orders"][0]["id"]
    assert (await ship(api, seller, vendor_order, None, "1Z-OWN")).status_code == 200
    key = idem()
    deliver = f"/v1/vendor/orders/{vendor_order}/deliver"
    first = await api.post(deliver, headers=with_key(seller.auth, key))
    retry = await api.post(deliver, headers=with_key(seller.auth, key))
    assert (first.status_code, retry.status_code) == (200, 200)
    assert retry.json() == first.json()
    assert first.json()["status"] == "delivered"
    assert len(await events(api, order["id"], "vendor_order.delivered")) == 1


async def test_given_an_order_cancelled_by_ops_when_the_cancel_is_retried_with_its_key_then_the_same_200_and_one_refund(  # noqa: E501
    api: httpx.AsyncClient, stripe: StripeGateway
) -> None:
    _, sku, order = await confirmed_order(api, "Cancelled")
    key = idem()
    cancel = f"/v1/orders/{order['id']}/cancel"
    first = await api.post(cancel, json={"reason": "buyer asked"}, headers=with_key(OPS, key))
    retry = await api.post(cancel, json={"reason": "buyer asked"}, headers=with_key(OPS, key))
    assert (first.status_code, retry.status_code) == (200, 200), first.text
    assert retry.json() == first.json()
    assert first.json()["status"] == "cancelled"
    assert first.json()["refunded_cents"] == order["total_cents"]
    (intent,) = await stripe.list_payment_intents_for(f"order-{order['id']}")
    refunds = await stripe.list_refunds(intent["id"])
    assert [r["amount"] for r in refunds] == [order["total_cents"]]
    level = await inventory(api, sku)
    assert (level["on_hand"], level["reserved"]) == (6, 0)
    assert len(await events(api, order["id"], "vendor_order.cancelled")) == 1


async def test_two_vendors_using_the_same_key_each_get_their_own_answer(
    api: httpx.AsyncClient,
) -> None:
    first_seller, _, first_order = await confirmed_order(api, "Twin")
    second_seller, _, second_order = await confirmed_order(api, "Twain")
    key = idem()
    first_vo = first_order["vendor_orders"][0]["id"]
    second_vo = second_order["vendor_orders"][0]["id"]
    first = await ship(api, first_seller, first_vo, key, "1Z-SAME")
    second = await ship(api, second_seller, second_vo, key, "1Z-SAME")
    assert (first.status_code, second.status_code) == (200, 200), second.text
    assert (first.json()["id"], first.json()["vendor_id"]) == (first_vo, first_seller.id)
    assert (second.json()["id"], second.json()["vendor_id"]) == (second_vo, second_seller.id)
    assert "idempotent-replayed" not in second.headers
    assert second.json()["status"] == "shipped"


# --- stock ---


async def test_given_a_stock_count_set_with_a_key_when_retried_later_then_the_first_answer_and_no_second_write(  # noqa: E501
    api: httpx.AsyncClient,
) -> None:
    seller = await onboard(api, "Counter")
    sku = await stock_product(api, seller, price_cents=500, on_hand=2)
    key = idem()
    url = f"/v1/inventory/{sku}/{seller.warehouse_id}"
    first = await api.put(url, json={"on_hand": 10}, headers=with_key(seller.auth, key))
    assert (first.status_code, first.json()["on_hand"]) == (200, 10)
    adjusted = await api.post(
        f"{url}/adjustments", json={"delta": 3, "reason": "found a box"}, headers=seller.auth
    )
    assert adjusted.json()["on_hand"] == 13
    # Run again, the retry would set 10 and lose the box found since.
    retry = await api.put(url, json={"on_hand": 10}, headers=with_key(seller.auth, key))
    assert (retry.status_code, retry.json()) == (200, first.json())
    assert (await inventory(api, sku))["on_hand"] == 13
    counts = [m for m in await movements(api, seller, sku) if m["reason"] == "stock count set"]
    assert len(counts) == 2  # the stock_product count of 2, and this one


async def test_given_an_adjustment_with_a_key_when_sent_twice_then_the_delta_is_added_once(
    api: httpx.AsyncClient,
) -> None:
    seller = await onboard(api, "Adjuster")
    sku = await stock_product(api, seller, price_cents=500, on_hand=7)
    key = idem()
    url = f"/v1/inventory/{sku}/{seller.warehouse_id}/adjustments"
    body = {"delta": 5, "reason": "delivery from supplier"}
    answers = [await api.post(url, json=body, headers=with_key(seller.auth, key)) for _ in "ab"]
    assert [a.status_code for a in answers] == [200, 200]
    assert answers[0].json() == answers[1].json()
    assert answers[0].json()["on_hand"] == 12
    other = await api.post(
        url,
        json={"delta": 6, "reason": "delivery from supplier"},
        headers=with_key(seller.auth, key),
    )
    assert (other.status_code, other.json()["code"]) == (422, "idempotency_key_reused")
    assert (await inventory(api, sku))["on_hand"] == 12
    added = [m for m in await movements(api, seller, sku) if m["reason"] == body["reason"]]
    assert [m["on_hand_delta"] for m in added] == [5]


async def test_a_key_longer_than_255_characters_is_422_and_ships_nothing(
    api: httpx.AsyncClient,
) -> None:
    seller, sku, order = await confirmed_order(api, "Verbose")
    vendor_order = order["vendor_orders"][0]["id"]
    refused = await ship(api, seller, vendor_order, "k" * 256, "1Z-LONG")
    assert (refused.status_code, refused.json()["code"]) == (422, "validation_error")
    stored = (await api.get(f"/v1/vendor/orders/{vendor_order}", headers=seller.auth)).json()
    assert stored["status"] == "awaiting_shipment"
    assert (await inventory(api, sku))["reserved"] == 2


# --- onboarding: one vendor, one Stripe account ---


async def test_given_vendor_onboarding_sent_again_with_its_key_then_one_vendor_and_one_stripe_account(  # noqa: E501
    api: httpx.AsyncClient, stack: DevStack, sdk: stripe_sdk.StripeClient
) -> None:
    email = f"{unique('once').lower()}@example.com"
    key = idem()
    body = {"name": "Once", "email": email}
    answers = await asyncio.gather(
        *(api.post("/v1/vendors", json=body, headers=with_key(OPS, key)) for _ in range(3))
    )
    later = await api.post("/v1/vendors", json=body, headers=with_key(OPS, key))
    assert [a.status_code for a in (*answers, later)] == [201] * 4
    first = answers[0].json()
    assert all(a.json() == first for a in (*answers, later))
    assert await vendors_named(stack, email) == 1
    assert await accounts_for(sdk, email) == [first["stripe_account_id"]]
    # The key shown in the replayed answer is the vendor's one working key.
    own = await api.get(f"/v1/vendors/{first['id']}", headers=bearer(later.json()["api_key"]))
    assert own.status_code == 200


async def test_an_onboarding_answer_is_kept_sealed_and_its_retry_still_gets_the_vendor_key(
    api: httpx.AsyncClient, stack: DevStack
) -> None:
    # Given a vendor onboarded with a key: its answer shows the vendor's API key once
    key = idem()
    body = {"name": "Sealed", "email": f"{unique('sealed').lower()}@example.com"}
    first = await api.post("/v1/vendors", json=body, headers=with_key(OPS, key))
    assert first.status_code == 201, first.text
    secret = first.json()["api_key"]
    # Then the answer kept for its retries does not hold that key in clear
    engine = make_engine(stack.env["DATABASE_URL"], pool_size=1)
    try:
        async with make_sessionmaker(engine)() as session:
            kept = (
                await execute_sql(
                    session,
                    text(
                        "SELECT response_body FROM idempotency_record"
                        " WHERE scope = 'ops' AND key = :key"
                    ),
                    {"key": key},
                )
            ).scalar_one()
    finally:
        await engine.dispose()
    assert kept and secret.encode() not in bytes(kept)
    assert first.json()["id"].encode() not in bytes(kept)
    # And the same caller's retry gets the first answer, key included
    again = await api.post("/v1/vendors", json=body, headers=with_key(OPS, key))
    assert again.status_code == 201
    assert again.headers.get("idempotent-replayed") == "true"
    assert again.json() == first.json()


async def test_given_onboarding_that_failed_with_a_5xx_when_retried_with_its_key_then_it_runs_again(
    api: httpx.AsyncClient, stack: DevStack, sdk: stripe_sdk.StripeClient
) -> None:
    email = f"{unique('flaky').lower()}@example.com"
    key = idem()
    body = {"name": "Flaky", "email": email}
    fault = {"rate": 1.0, "modes": ["error_500"], "methods": ["POST"], "paths": ["/v1/accounts"]}
    async with emulator(stack) as control:
        assert (await control.post("/_emulator/faults", json={**fault, "count": 1})).is_success
        try:
            failed = await api.post("/v1/vendors", json=body, headers=with_key(OPS, key))
        finally:
            await control.delete("/_emulator/faults")
    assert failed.status_code >= 500
    assert await vendors_named(stack, email) == 0
    retried = await api.post("/v1/vendors", json=body, headers=with_key(OPS, key))
    assert retried.status_code == 201, retried.text
    assert "idempotent-replayed" not in retried.headers
    assert await vendors_named(stack, email) == 1
    assert await accounts_for(sdk, email) == [retried.json()["stripe_account_id"]]


# --- routes with keys of their own, and the contract ---


async def test_an_ops_refund_retried_with_its_key_refunds_once_and_another_amount_under_it_is_422(
    api: httpx.AsyncClient, stripe: StripeGateway
) -> None:
    _, _, order = await confirmed_order(api, "Refunded")
    vendor_order = order["vendor_orders"][0]["id"]
    key = idem()
    url = f"/v1/ops/vendor-orders/{vendor_order}/refunds"
    first = await api.post(url, json={"amount_cents": 300}, headers=with_key(OPS, key))
    other = await api.post(url, json={"amount_cents": 500}, headers=with_key(OPS, key))
    retry = await api.post(url, json={"amount_cents": 300}, headers=with_key(OPS, key))
    assert (first.status_code, retry.status_code) == (200, 200), first.text
    assert (other.status_code, other.json()["code"]) == (422, "idempotency_key_reused")
    assert retry.json()["refunded_cents"] == first.json()["refunded_cents"] == 300
    (intent,) = await stripe.list_payment_intents_for(f"order-{order['id']}")
    assert [r["amount"] for r in await stripe.list_refunds(intent["id"])] == [300]


async def test_the_openapi_document_offers_the_key_on_mutating_routes_but_not_on_webhooks(
    api: httpx.AsyncClient,
) -> None:
    paths = (await api.get("/openapi.json")).json()["paths"]

    def key_parameter(path: str, method: str) -> dict[str, Any] | None:
        parameters = paths[path][method].get("parameters", [])
        return next((p for p in parameters if p["name"] == "Idempotency-Key"), None)

    for path, method in (
        ("/v1/vendors", "post"),
        ("/v1/vendor/orders/{vendor_order_id}/ship", "post"),
        ("/v1/vendor/orders/{vendor_order_id}/deliver", "post"),
        ("/v1/orders/{order_id}/cancel", "post"),
        ("/v1/inventory/{sku}/{warehouse_id}", "put"),
        ("/v1/inventory/{sku}/{warehouse_id}/adjustments", "post"),
        ("/v1/vendors/{vendor_id}", "patch"),
        ("/v1/vendors/{vendor_id}/webhook", "delete"),
    ):
        parameter = key_parameter(path, method)
        assert parameter is not None, (path, method)
        assert (parameter["in"], parameter["required"]) == ("header", False)
        assert parameter["schema"]["maxLength"] == 255
    onboarding = key_parameter("/v1/vendors", "post")
    assert onboarding is not None and "opens no second account" in onboarding["description"]
    checkout = key_parameter("/v1/orders", "post")
    assert checkout is not None and checkout["required"] is True
    assert key_parameter("/v1/webhooks/stripe", "post") is None
    assert key_parameter("/v1/webhooks/shippo", "post") is None
