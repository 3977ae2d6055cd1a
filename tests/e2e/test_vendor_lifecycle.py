"""A vendor's lifecycle (issue 13, part 4): pending -> active -> suspended -> active, moved
only by ops. A vendor that is not active sells nothing (409 `vendor_unavailable` naming the
SKUs; nothing held, nothing charged, no order), and what it sold before goes on to its payout.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from domain.ids import order_id_for_idempotency_key
from providers.stripe_adapter import StripeGateway
from tests.e2e.client import (
    OPS,
    PLATFORM,
    Seller,
    inventory,
    onboard,
    order_body,
    place,
    stock_product,
    wait_for_order,
)
from tests.e2e.money import ship_and_deliver
from tests.e2e.pages import every_item


async def move(api: httpx.AsyncClient, seller: Seller, action: str, **body: Any) -> httpx.Response:
    return await api.post(f"/v1/ops/vendors/{seller.id}/{action}", json=body or None, headers=OPS)


async def status_of(api: httpx.AsyncClient, seller: Seller) -> dict[str, Any]:
    answer = await api.get(f"/v1/vendors/{seller.id}", headers=OPS)
    assert answer.status_code == 200, answer.text
    return answer.json()  # type: ignore[no-any-return]


async def refused_untouched(
    api: httpx.AsyncClient, stripe: StripeGateway, body: dict[str, Any], skus: list[str]
) -> dict[str, Any]:
    """Checkout of `body` is refused with vendor_unavailable; no order, no hold, no charge."""
    before = {sku: await inventory(api, sku) for sku in body_skus(body)}
    key = uuid.uuid4().hex
    answer = await place(api, body, key)
    assert answer.status_code == 409, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    problem = answer.json()
    assert (problem["code"], problem["skus"]) == ("vendor_unavailable", skus)
    assert {sku: await inventory(api, sku) for sku in body_skus(body)} == before
    order_id = order_id_for_idempotency_key("platform", key)
    assert (await api.get(f"/v1/orders/{order_id}", headers=PLATFORM)).status_code == 404
    assert await stripe.list_payment_intents_for(f"order-{order_id}") == []
    listed = await every_item(api, "/v1/orders", PLATFORM, customer_id=body["customer_id"])
    assert listed == []
    return problem  # type: ignore[no-any-return]


def body_skus(body: dict[str, Any]) -> list[str]:
    return [line["sku"] for line in body["lines"]]


async def test_a_vendor_is_active_unless_created_pending_and_ops_move_it_through_its_lifecycle(
    api: httpx.AsyncClient, stripe: StripeGateway
) -> None:
    assert (await status_of(api, await onboard(api, "Lively")))["status"] == "active"
    seller = await onboard(api, "Newcomer", status="pending")
    sku = await stock_product(api, seller, price_cents=1000, on_hand=5)
    assert (await status_of(api, seller))["status"] == "pending"
    await refused_untouched(api, stripe, order_body([(sku, 1)]), [sku])

    activated = await move(api, seller, "activate", reason="documents checked")
    assert activated.status_code == 200, activated.text
    assert (activated.json()["status"], activated.json()["status_reason"]) == (
        "active",
        "documents checked",
    )
    assert (await place(api, order_body([(sku, 1)]))).status_code == 201

    suspended = await move(api, seller, "suspend", reason="too many late parcels")
    assert suspended.status_code == 200, suspended.text
    assert suspended.json()["status"] == "suspended"
    assert suspended.json()["status_changed_at"]
    await refused_untouched(api, stripe, order_body([(sku, 1)]), [sku])

    back = await move(api, seller, "activate")
    assert (back.status_code, back.json()["status"]) == (200, "active")
    assert (await place(api, order_body([(sku, 1)]))).status_code == 201


async def test_a_cart_with_a_suspended_vendors_sku_is_refused_whole_naming_only_its_skus(
    api: httpx.AsyncClient, stripe: StripeGateway
) -> None:
    good = await onboard(api, "StillSelling")
    bad = await onboard(api, "Suspended")
    fine = await stock_product(api, good, price_cents=1000, on_hand=5)
    gone = [await stock_product(api, bad, price_cents=500, on_hand=5) for _ in range(2)]
    assert (await move(api, bad, "suspend", reason="audit")).status_code == 200
    problem = await refused_untouched(
        api, stripe, order_body([(fine, 1), (gone[1], 1), (gone[0], 2)]), sorted(gone)
    )
    assert problem["vendor_ids"] == [bad.id]


@pytest.mark.parametrize(
    ("start", "action", "body"),
    [
        ("active", "activate", {}),
        ("pending", "suspend", {"reason": "no"}),
        ("suspended", "suspend", {"reason": "again"}),
    ],
)
async def test_a_move_its_status_does_not_allow_is_409_with_the_current_status_and_changes_nothing(
    api: httpx.AsyncClient, start: str, action: str, body: dict[str, str]
) -> None:
    seller = await onboard(api, "Mover", status="pending" if start == "pending" else "active")
    if start == "suspended":
        assert (await move(api, seller, "suspend", reason="first")).status_code == 200
    before = await status_of(api, seller)
    refused = await move(api, seller, action, **body)
    assert refused.status_code == 409, refused.text
    assert (refused.json()["code"], refused.json()["vendor_status"]) == ("invalid_state", start)
    assert await status_of(api, seller) == before


@pytest.mark.parametrize(
    ("path", "body", "headers", "status"),
    [
        ("suspend", {}, OPS, 422),  # a suspension says why
        ("suspend", {"reason": ""}, OPS, 422),
        ("suspend", {"reason": "x", "extra": 1}, OPS, 422),
        ("suspend", {"reason": "x"}, PLATFORM, 403),
        ("activate", None, PLATFORM, 403),
        ("suspend", {"reason": "x"}, {}, 401),
    ],
)
async def test_a_bad_or_unauthorised_move_is_a_problem_and_changes_nothing(
    api: httpx.AsyncClient,
    path: str,
    body: dict[str, Any] | None,
    headers: dict[str, str],
    status: int,
) -> None:
    seller = await onboard(api, "Guarded", status="pending")
    before = await status_of(api, seller)
    answer = await api.post(f"/v1/ops/vendors/{seller.id}/{path}", json=body, headers=headers)
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert await status_of(api, seller) == before
    seller_moves = await api.post(f"/v1/ops/vendors/{seller.id}/activate", headers=seller.auth)
    assert seller_moves.status_code == 403
    missing = await api.post(
        "/v1/ops/vendors/ven_missing/suspend", json={"reason": "x"}, headers=OPS
    )
    assert (missing.status_code, missing.json()["code"]) == (404, "not_found")


async def test_creating_a_vendor_with_another_status_is_refused_and_creates_nothing(
    api: httpx.AsyncClient,
) -> None:
    before = await every_item(api, "/v1/ops/vendors", OPS, limit=200)
    answer = await api.post(
        "/v1/vendors",
        json={"name": "Sneaky", "email": "sneaky@example.com", "status": "suspended"},
        headers=OPS,
    )
    assert answer.status_code == 422, answer.text
    assert await every_item(api, "/v1/ops/vendors", OPS, limit=200) == before


async def test_ops_list_vendors_by_status_page_by_page_each_once(api: httpx.AsyncClient) -> None:
    made = [await onboard(api, f"Listed{n}", status="pending") for n in range(5)]
    for seller in made[:2]:
        assert (await move(api, seller, "activate")).status_code == 200
    assert (await move(api, made[0], "suspend", reason="checked")).status_code == 200
    ids = [s.id for s in made]

    everyone = await every_item(api, "/v1/ops/vendors", OPS, limit=2)
    assert [v["id"] for v in everyone if v["id"] in ids] == ids  # oldest first
    by_status = {
        status: [
            v["id"]
            for v in await every_item(api, "/v1/ops/vendors", OPS, limit=2, status=status)
            if v["id"] in ids
        ]
        for status in ("pending", "active", "suspended")
    }
    assert by_status == {"pending": ids[2:], "active": [ids[1]], "suspended": [ids[0]]}
    unknown = await api.get("/v1/ops/vendors", params={"status": "banned"}, headers=OPS)
    assert (unknown.status_code, unknown.json()["code"]) == (422, "validation_error")
    denied = await api.get("/v1/ops/vendors", headers=PLATFORM)
    assert denied.status_code == 403


async def test_a_suspended_vendor_still_ships_what_it_sold_and_is_paid_for_it(
    api: httpx.AsyncClient,
) -> None:
    seller = await onboard(api, "WindingDown")
    sku = await stock_product(api, seller, price_cents=2000, on_hand=5)
    placed = await place(api, order_body([(sku, 1)]))
    assert placed.status_code == 201, placed.text
    order = placed.json()
    assert (await move(api, seller, "suspend", reason="leaving")).status_code == 200

    # Its key still works for its orders: it sees, ships and delivers them.
    mine = await every_item(api, "/v1/vendor/orders", seller.auth)
    assert [vo["order_id"] for vo in mine] == [order["id"]]
    await ship_and_deliver(api, seller, order["vendor_orders"][0]["id"])
    done = await wait_for_order(api, order["id"], "completed", within=60)
    (vendor_order,) = done["vendor_orders"]
    assert (vendor_order["status"], vendor_order["payout_status"]) == ("completed", "released")
    assert vendor_order["payout_cents"] > 0
    assert (await status_of(api, seller))["status"] == "suspended"


async def test_a_suspension_sent_again_with_its_idempotency_key_answers_the_first_answer(
    api: httpx.AsyncClient,
) -> None:
    seller = await onboard(api, "Retried")
    headers = {**OPS, "Idempotency-Key": uuid.uuid4().hex}
    url = f"/v1/ops/vendors/{seller.id}/suspend"
    first = await api.post(url, json={"reason": "audit"}, headers=headers)
    again = await api.post(url, json={"reason": "audit"}, headers=headers)
    assert (first.status_code, again.status_code) == (200, 200)
    assert again.json() == first.json()
    other = await api.post(url, json={"reason": "other"}, headers=headers)
    assert (other.status_code, other.json()["code"]) == (422, "idempotency_key_reused")
    assert (await status_of(api, seller))["status_reason"] == "audit"
