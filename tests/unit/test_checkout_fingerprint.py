"""A checkout's idempotency fingerprint outlives the checkout body's growth: a field added
after orders were placed without it leaves the fingerprint of a body without it as it was, so
the retry of an order placed before the field existed is still the same order (never 422
idempotency_key_reused across a deploy)."""

from __future__ import annotations

from typing import Any

import pytest

from domain.ids import request_fingerprint
from models.views import OrderCreate

BODY: dict[str, Any] = {
    "customer_id": "cus_1",
    "currency": "usd",
    "lines": [{"sku": "BRAKE-01", "quantity": 2}],
    "shipping_address": {
        "name": "Ada Lovelace",
        "line1": "1 Main St",
        "city": "New York",
        "postal_code": "10001",
        "country": "US",
        "latitude": 40.7,
        "longitude": -74.0,
    },
    "payment_method": "pm_card_visa",
}

# What the body's fingerprint read before `shipping_address.state` existed: the model's dump
# then, field for field (line2 absent from the body is null in it).
BEFORE_STATE = {
    **BODY,
    "shipping_address": {**BODY["shipping_address"], "line2": None},
}


def test_a_body_without_the_later_fields_has_the_fingerprint_it_had_before_them() -> None:
    order = OrderCreate.model_validate(BODY)
    assert order.fingerprint_payload() == BEFORE_STATE
    assert request_fingerprint(order.fingerprint_payload()) == request_fingerprint(BEFORE_STATE)


def test_a_state_given_is_part_of_the_order_and_of_its_fingerprint() -> None:
    with_state = {**BODY, "shipping_address": {**BODY["shipping_address"], "state": "NY"}}
    order = OrderCreate.model_validate(with_state)
    assert order.shipping_address.state == "NY"
    assert order.fingerprint_payload()["shipping_address"]["state"] == "NY"
    assert request_fingerprint(order.fingerprint_payload()) != request_fingerprint(BEFORE_STATE)


@pytest.mark.parametrize("state", ["", "x" * 101, 7])
def test_a_state_that_is_empty_too_long_or_not_text_is_refused(state: object) -> None:
    with pytest.raises(ValueError):
        OrderCreate.model_validate(
            {**BODY, "shipping_address": {**BODY["shipping_address"], "state": state}}
        )
