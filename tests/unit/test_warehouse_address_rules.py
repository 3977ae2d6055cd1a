"""What a warehouse's address needs before a label can leave from it, and what a request may
set on it (docs/warehouse-addresses.md)."""

from __future__ import annotations

import pickle

import pytest
from pydantic import ValidationError

from api.errors import STATUS_BY_CODE
from domain.errors import ErrorCode
from domain.warehouse_address import WarehouseAddressIncomplete, missing_for_labels
from models.vendor import Warehouse, WarehouseCreate, WarehousePublic, WarehouseUpdate

FIRST_BODY = {
    "name": "Main",
    "postal_code": "10001",
    "country": "US",
    "latitude": 40.75,
    "longitude": -73.99,
}


def test_a_label_needs_a_street_and_a_city_and_a_state_where_carriers_ask_for_one() -> None:
    assert missing_for_labels(address_line1=None, city=None, state=None, country="US") == [
        "address_line1",
        "city",
        "state",
    ]
    assert missing_for_labels(address_line1="1 Main St", city="Toronto", state="", country="ca")
    assert (
        missing_for_labels(address_line1="1 Main St", city="Sydney", state="NSW", country="AU")
        == []
    )
    # Most countries have no state on a label.
    assert (
        missing_for_labels(address_line1="Hauptstr. 5", city="Berlin", state=None, country="DE")
        == []
    )


def test_the_first_warehouse_body_still_creates_a_warehouse_that_says_what_labels_miss() -> None:
    body = WarehouseCreate.model_validate(FIRST_BODY)
    warehouse = Warehouse(id="wh_1", vendor_id="ven_1", **body.model_dump())
    shown = WarehousePublic.of(warehouse)
    assert (shown.address_line1, shown.city, shown.state, shown.phone) == (None, None, None, None)
    assert shown.missing_for_labels == ["address_line1", "city", "state"]


def test_address_text_is_trimmed_and_blank_long_or_unstorable_lines_are_refused() -> None:
    body = WarehouseCreate.model_validate(
        {**FIRST_BODY, "address_line1": "  1 Main St ", "city": "New York", "state": "NY"}
    )
    assert (body.address_line1, body.city) == ("1 Main St", "New York")
    for field, value in (
        ("address_line1", "   "),
        ("address_line1", "x" * 36),  # a carrier prints 35 characters on a street line
        ("address_line2", "x" * 36),
        ("city", "New\x00York"),
        ("state", ""),
        ("phone", "call me"),
        ("phone", "+1 212 555 0100" * 3),
    ):
        with pytest.raises(ValidationError) as refused:
            WarehouseCreate.model_validate({**FIRST_BODY, field: value})
        assert refused.value.errors()[0]["loc"][0] == field


def test_an_update_changes_only_what_it_sends_keeps_the_name_and_never_moves_the_warehouse() -> (
    None
):
    update = WarehouseUpdate.model_validate({"city": "Newark", "state": None})
    assert update.model_dump(include=update.model_fields_set) == {"city": "Newark", "state": None}
    with pytest.raises(ValidationError):
        WarehouseUpdate.model_validate({"name": None})
    for moved in ({"postal_code": "07102"}, {"country": "CA"}, {"latitude": 1.0}):
        with pytest.raises(ValidationError):
            WarehouseUpdate.model_validate(moved)


def test_an_incomplete_address_is_a_409_that_names_the_warehouse_and_the_fields() -> None:
    error = WarehouseAddressIncomplete("wh_1", ["city"])
    assert STATUS_BY_CODE[error.code] == 409
    assert error.code == ErrorCode.WAREHOUSE_ADDRESS_INCOMPLETE
    assert error.extra == {"warehouse_id": "wh_1", "missing": ["city"]}
    # It crosses process boundaries (worker to API) with its fields.
    again = pickle.loads(pickle.dumps(error))
    assert (type(again), again.extra, again.detail) == (
        WarehouseAddressIncomplete,
        error.extra,
        error.detail,
    )
