"""Every string a client sends is text PostgreSQL can store, and every number fits its column:
anything else is refused by the request's model (a 422 naming the field), never by the database
(a 500, or a saga retrying for ever)."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from api.routers.ops import RefundBody
from models.catalog import PriceTierIn, ProductCreate
from models.returns import ReturnCreate, ReturnLineIn
from models.stock import MAX_ON_HAND, AdjustmentIn, StockLevelIn
from models.text import unstorable
from models.vendor import VendorCreate, VendorUpdate, WarehouseCreate
from models.views import CancelBody, OrderCreate, OrderLineIn, ShipBody, ShippingAddress

ADDRESS = {
    "name": "Ada",
    "line1": "1 Main St",
    "city": "New York",
    "postal_code": "10001",
    "country": "US",
    "latitude": 40.7,
    "longitude": -74.0,
}
# A valid body of every input model, and the string fields each one carries.
VALID: list[tuple[type[BaseModel], dict[str, Any], tuple[str, ...]]] = [
    (ShippingAddress, ADDRESS, ("name", "line1", "line2", "city", "postal_code", "country")),
    (OrderLineIn, {"sku": "A-1", "quantity": 1}, ("sku",)),
    (
        OrderCreate,
        {
            "customer_id": "cus_1",
            "currency": "usd",
            "lines": [{"sku": "A-1", "quantity": 1}],
            "shipping_address": ADDRESS,
            "payment_method": "pm_card_visa",
        },
        ("customer_id", "currency", "payment_method"),
    ),
    (ShipBody, {"carrier": "ups", "tracking_number": "1Z"}, ("carrier", "tracking_number")),
    (CancelBody, {}, ("reason",)),
    (
        ProductCreate,
        {
            "vendor_id": "ven_1",
            "sku": "A-1",
            "title": "Brake pad",
            "price_cents": 100,
            "currency": "usd",
            "weight_grams": 10,
        },
        ("vendor_id", "sku", "title", "currency"),
    ),
    (ReturnLineIn, {"sku": "A-1", "quantity": 1}, ("sku",)),
    (
        ReturnCreate,
        {"vendor_order_id": "vo_1", "lines": [{"sku": "A-1", "quantity": 1}], "reason": "too big"},
        ("vendor_order_id", "reason"),
    ),
    (
        VendorCreate,
        {"name": "Brakes Co", "email": "b@example.com"},
        ("name", "email", "ship_sla", "stripe_account_id"),
    ),
    (VendorUpdate, {}, ("ship_sla",)),
    (
        WarehouseCreate,
        {"name": "Main", "postal_code": "10001", "country": "US", "latitude": 1, "longitude": 2},
        ("name", "postal_code", "country"),
    ),
    (AdjustmentIn, {"delta": 1, "reason": "recount"}, ("reason",)),
    (RefundBody, {"amount_cents": 1}, ("reason",)),
]
CASES = [(model, body, field) for model, body, fields in VALID for field in fields]


@pytest.mark.parametrize(("model", "body"), [(m, b) for m, b, _ in VALID], ids=lambda v: "")
def test_the_valid_bodies_are_accepted(model: type[BaseModel], body: dict[str, Any]) -> None:
    model.model_validate(body)


@pytest.mark.parametrize(
    ("model", "body", "field"), CASES, ids=[f"{m.__name__}.{f}" for m, _, f in CASES]
)
@pytest.mark.parametrize("bad", ["\x00", "a\x00b", "\ud800", "x\udfff"], ids=repr)
def test_text_postgresql_cannot_store_is_refused_naming_the_field(
    model: type[BaseModel], body: dict[str, Any], field: str, bad: str
) -> None:
    with pytest.raises(ValidationError) as refused:
        model.model_validate({**body, field: bad})
    assert [error["loc"] for error in refused.value.errors()] == [(field,)]


def test_unstorable_says_why_for_nul_and_surrogates_and_nothing_for_other_text() -> None:
    assert unstorable("a\x00") == "must not contain the NUL character (U+0000)"
    assert unstorable("\ud83d") == "must not contain unpaired surrogates (U+D800 to U+DFFF)"
    assert [unstorable(t) for t in ("", "plain", "\U0001f600 emoji", "\x01\x7f", "é" * 9)] == [
        None
    ] * 5


@pytest.mark.parametrize(
    ("model", "body", "field"),
    [
        (StockLevelIn, {"on_hand": MAX_ON_HAND + 1}, "on_hand"),
        (StockLevelIn, {"on_hand": 2**31}, "on_hand"),
        (AdjustmentIn, {"delta": MAX_ON_HAND + 1, "reason": "r"}, "delta"),
        (AdjustmentIn, {"delta": -(2**63), "reason": "r"}, "delta"),
        (PriceTierIn, {"min_quantity": 2, "price_cents": 2**63}, "price_cents"),
        (VendorCreate, {"name": "n", "email": "e@example.com", "ship_sla": "P366D"}, "ship_sla"),
        (VendorCreate, {"name": "n", "email": "e@example.com", "ship_sla": 2**31}, "ship_sla"),
        (VendorUpdate, {"ship_sla": 1e300}, "ship_sla"),
        (ProductCreate, {**VALID[5][1], "vendor_id": "v" * 41}, "vendor_id"),
    ],
    ids=lambda v: "",
)
def test_numbers_beyond_their_columns_are_refused_with_the_field(
    model: type[BaseModel], body: dict[str, Any], field: str
) -> None:
    with pytest.raises(ValidationError) as refused:
        model.model_validate(body)
    assert [error["loc"] for error in refused.value.errors()] == [(field,)]


def test_the_longest_ship_sla_and_the_largest_stock_level_are_accepted() -> None:
    assert VendorUpdate(ship_sla="P365D").ship_sla == "P365D"
    assert StockLevelIn(on_hand=MAX_ON_HAND).on_hand == MAX_ON_HAND
    assert AdjustmentIn(delta=-MAX_ON_HAND, reason="write-off").delta == -MAX_ON_HAND
