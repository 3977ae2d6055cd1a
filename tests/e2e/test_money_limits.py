"""Amounts beyond what the payment provider accepts are refused with the limit named, and
nothing is held or charged; money columns hold them (64-bit) where they are recorded."""

from __future__ import annotations

import httpx

from tests.e2e.client import inventory, onboard, order_body, place, stock_product


async def test_an_order_above_the_largest_charge_is_refused_with_the_limit_and_holds_nothing(
    api: httpx.AsyncClient,
) -> None:
    # Given a $1,000,000 product (22 of them overflowed a 32-bit money column, and the
    # checkout then answered 504 for ever while the saga retried)
    seller = await onboard(api, "Yachts")
    sku = await stock_product(api, seller, price_cents=100_000_000, on_hand=30)
    # When a buyer orders 22
    body, key = order_body([(sku, 22)]), f"yacht-{sku}"
    answer = await place(api, body, key)
    # Then the checkout is refused at once, naming the provider's limit
    assert answer.status_code == 422, answer.text
    problem = answer.json()
    assert (problem["code"], problem["limit_cents"]) == ("validation_error", 99_999_999)
    assert problem["total_cents"] >= 2_200_000_000
    # And nothing was held
    level = await inventory(api, sku)
    assert (level["on_hand"], level["reserved"]) == (30, 0)
    # And the same request again answers the same
    again = await place(api, body, key)
    assert (again.status_code, again.json()["limit_cents"]) == (422, 99_999_999)
