"""The Shippo adapter against the emulator: a label is bought once per reference, amounts are
exact cents, and failures are sorted once."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC
from decimal import Decimal

import pytest

from devstack import free_port
from providers.errors import ProviderRejectedError, ProviderUnavailableError
from providers.shippo_adapter import Rate, ShippoGateway, TrackingUpdate, to_cents
from tests.shippo_helpers import (
    API_KEY,
    CUSTOMER,
    SMALL_BOX,
    WAREHOUSE,
    WebhookReceiver,
    control,
    impatient_gateway,
    lose_label_answers,
    sdk_client,
    transactions_with,
    unique,
    unique_number,
)


def cheapest(gateway: ShippoGateway, reference: str) -> Rate:
    return gateway.rates(WAREHOUSE, CUSTOMER, SMALL_BOX, reference)[0]


def test_rates_come_cheapest_first_in_exact_integer_cents(
    shippo_gateway: ShippoGateway, shippo_emulator: str
) -> None:
    reference = unique("vo")

    rates = shippo_gateway.rates(WAREHOUSE, CUSTOMER, SMALL_BOX, reference)

    assert len(rates) >= 4
    assert [r.amount_cents for r in rates] == sorted(r.amount_cents for r in rates)
    assert {r.carrier for r in rates} >= {"usps", "ups", "shippo"}
    assert all(isinstance(r.amount_cents, int) and r.currency == "usd" for r in rates)
    fastest = min(rates, key=lambda r: (r.estimated_days or 99, r.amount_cents))
    assert (rates[0].estimated_days or 0) > (fastest.estimated_days or 0)
    assert rates[0].amount_cents < fastest.amount_cents
    sdk = sdk_client(shippo_emulator)
    for rate in rates:
        quoted = sdk.rates.get(rate.rate_id)
        assert Decimal(rate.amount_cents) / 100 == Decimal(quoted.amount)
        assert (rate.service_token, rate.service_name) == (
            quoted.servicelevel.token,
            quoted.servicelevel.name,
        )


@pytest.mark.parametrize(
    ("amount", "cents"),
    [("4.95", 495), ("10", 1000), ("0.005", 1), ("0.004", 0), ("12.345", 1235), ("7.1", 710)],
)
def test_a_decimal_amount_becomes_cents_rounding_halves_up(amount: str, cents: int) -> None:
    assert to_cents(amount) == cents


def test_a_label_is_bought_with_its_reference_and_tracked(
    shippo_gateway: ShippoGateway, shippo_emulator: str
) -> None:
    reference = unique("vo")
    rate = cheapest(shippo_gateway, reference)

    label = shippo_gateway.buy_label(rate.rate_id, reference)

    (sold,) = transactions_with(shippo_emulator, reference)
    assert label.transaction_id == sold["object_id"]
    assert (label.rate_id, label.carrier, label.cost_cents, label.currency) == (
        rate.rate_id,
        rate.carrier,
        rate.amount_cents,
        "usd",
    )
    assert label.tracking_number == sold["tracking_number"] != ""
    assert label.label_url.endswith(".pdf")
    assert shippo_gateway.find_label(reference) == label


@pytest.mark.usefixtures("shippo_faults_cleared")
def test_a_label_is_bought_once_even_when_the_first_answer_is_lost(shippo_emulator: str) -> None:
    reference = unique("vo")
    with impatient_gateway(shippo_emulator) as gateway:
        rate = cheapest(gateway, reference)
        lose_label_answers(shippo_emulator)

        with pytest.raises(ProviderUnavailableError) as lost:
            gateway.buy_label(rate.rate_id, reference)

        assert (lost.value.code, lost.value.retryable) == ("timeout", True)
        (bought,) = transactions_with(shippo_emulator, reference)
        control(shippo_emulator, "DELETE", "/_emulator/faults")

        retried = gateway.buy_label(rate.rate_id, reference)

    assert retried.transaction_id == bought["object_id"]
    assert retried.tracking_number == bought["tracking_number"]
    assert len(transactions_with(shippo_emulator, reference)) == 1


def test_buying_again_with_the_same_reference_returns_the_same_label(
    shippo_gateway: ShippoGateway, shippo_emulator: str
) -> None:
    reference = unique("vo")
    rate = cheapest(shippo_gateway, reference)

    first = shippo_gateway.buy_label(rate.rate_id, reference)
    again = shippo_gateway.buy_label(rate.rate_id, reference)

    assert again == first
    assert len(transactions_with(shippo_emulator, reference)) == 1


def test_a_different_reference_buys_a_new_label(
    shippo_gateway: ShippoGateway, shippo_emulator: str
) -> None:
    first_ref, second_ref = unique("vo"), unique("vo")
    rate = cheapest(shippo_gateway, first_ref)

    first = shippo_gateway.buy_label(rate.rate_id, first_ref)
    second = shippo_gateway.buy_label(rate.rate_id, second_ref)

    assert first.transaction_id != second.transaction_id
    assert first.tracking_number != second.tracking_number
    assert len(transactions_with(shippo_emulator, first_ref)) == 1
    assert len(transactions_with(shippo_emulator, second_ref)) == 1


def test_no_label_is_found_for_a_reference_never_bought(shippo_gateway: ShippoGateway) -> None:
    assert shippo_gateway.find_label(unique("vo")) is None


# --- errors ------------------------------------------------------------------------------------


def test_an_unknown_rate_is_rejected_and_buys_nothing(
    shippo_gateway: ShippoGateway, shippo_emulator: str
) -> None:
    reference = unique("vo")

    with pytest.raises(ProviderRejectedError) as refused:
        shippo_gateway.buy_label("0" * 32, reference)

    assert (refused.value.code, refused.value.retryable) == ("rate_not_found", False)
    assert (refused.value.http_status, refused.value.param) == (400, "rate")
    assert transactions_with(shippo_emulator, reference) == []


def test_a_label_the_carrier_refuses_is_label_refused(shippo_gateway: ShippoGateway) -> None:
    reference = unique("vo")
    # Shippo quotes rates for an address without a street, but labels none.
    rate = shippo_gateway.rates(WAREHOUSE, replace(CUSTOMER, street1=""), SMALL_BOX, reference)[0]

    with pytest.raises(ProviderRejectedError) as refused:
        shippo_gateway.buy_label(rate.rate_id, reference)

    assert refused.value.code == "label_refused"
    assert "incomplete" in refused.value.message
    assert shippo_gateway.find_label(reference) is None


@pytest.mark.usefixtures("shippo_faults_cleared")
@pytest.mark.parametrize(
    ("mode", "code", "status"),
    [("error_500", "shippo_unavailable", 500), ("rate_limit_429", "rate_limited", 429)],
)
def test_a_shippo_outage_is_unavailable_and_worth_retrying(
    shippo_gateway: ShippoGateway, shippo_emulator: str, mode: str, code: str, status: int
) -> None:
    control(shippo_emulator, "POST", "/_emulator/faults", {"modes": [mode], "count": 1})

    with pytest.raises(ProviderUnavailableError) as failed:
        cheapest(shippo_gateway, unique("vo"))

    assert (failed.value.code, failed.value.http_status, failed.value.retryable) == (
        code,
        status,
        True,
    )
    assert cheapest(shippo_gateway, unique("vo")).amount_cents > 0


@pytest.mark.usefixtures("shippo_faults_cleared")
def test_a_request_that_gets_no_answer_times_out_as_unavailable(shippo_emulator: str) -> None:
    control(shippo_emulator, "POST", "/_emulator/faults", {"modes": ["timeout_before"]})

    with (
        impatient_gateway(shippo_emulator) as gateway,
        pytest.raises(ProviderUnavailableError) as failed,
    ):
        cheapest(gateway, unique("vo"))

    assert failed.value.code == "timeout"


def test_an_unreachable_shippo_is_unavailable() -> None:
    gateway = ShippoGateway.connect(API_KEY, f"http://127.0.0.1:{free_port()}", timeout=1.0)
    try:
        with pytest.raises(ProviderUnavailableError) as failed:
            gateway.find_label(unique("vo"))
    finally:
        gateway.close()

    assert failed.value.code == "connection_failed"


def test_any_other_refused_request_is_final_and_names_the_field_at_fault(
    shippo_gateway: ShippoGateway, shippo_emulator: str
) -> None:
    with pytest.raises(ProviderRejectedError) as refused:
        shippo_gateway.track("usps", "", unique("vo"))

    assert (refused.value.code, refused.value.param) == (
        "shippo_invalid_request",
        "tracking_number",
    )


# --- tracking ----------------------------------------------------------------------------------


def test_registering_a_parcel_reports_its_status_and_later_delivers_it(
    shippo_gateway: ShippoGateway, shippo_webhooks: WebhookReceiver
) -> None:
    number = unique_number("SHIPPO_DELIVERED")

    now = shippo_gateway.track("shippo", number, unique("vo"))

    assert (now.carrier, now.tracking_number, now.status) == ("shippo", number, "PRE_TRANSIT")
    assert now.status_id
    transit, delivered = shippo_webhooks.wait_for(number, 2)
    update = ShippoGateway.parse_webhook(delivered.body)
    assert update is not None
    assert (update.carrier, update.tracking_number, update.status) == (
        "shippo",
        number,
        "DELIVERED",
    )
    assert update.status_id == delivered.payload["data"]["tracking_status"]["object_id"]
    assert update.status_date is not None and update.status_date.tzinfo is UTC
    assert ShippoGateway.parse_webhook(transit.body) != update
    assert shippo_gateway.tracking_status("shippo", number) == update


# --- webhooks ----------------------------------------------------------------------------------


def webhook(status: dict[str, object] | None, event: str = "track_updated") -> bytes:
    data = {"carrier": "usps", "tracking_number": "9400100", "tracking_status": status}
    return json.dumps({"event": event, "test": False, "data": data}).encode()


def test_a_track_updated_webhook_reads_as_a_tracking_update() -> None:
    body = webhook(
        {"status": "RETURNED", "object_id": "ev1", "status_date": "2024-03-01T10:00:00Z"}
    )

    update = ShippoGateway.parse_webhook(body)

    assert update is not None
    assert (update.carrier, update.tracking_number, update.status, update.status_id) == (
        "usps",
        "9400100",
        "RETURNED",
        "ev1",
    )
    assert update.status_date is not None and update.status_date.isoformat() == (
        "2024-03-01T10:00:00+00:00"
    )


def test_a_webhook_without_a_status_yet_is_unknown() -> None:
    assert ShippoGateway.parse_webhook(webhook(None)) == TrackingUpdate(
        "usps", "9400100", "UNKNOWN", "", None
    )


def test_a_status_shippo_adds_later_reads_as_unknown() -> None:
    update = ShippoGateway.parse_webhook(webhook({"status": "HELD", "object_id": "ev2"}))

    assert update is not None and update.status == "UNKNOWN"


@pytest.mark.parametrize("event", ["transaction_created", "transaction_updated", "batch_created"])
def test_webhooks_about_other_things_are_ignored(event: str) -> None:
    assert ShippoGateway.parse_webhook(webhook({"status": "DELIVERED"}, event)) is None


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"\xff\xfe",
        b"[]",
        b'{"event": "track_updated"}',
        b'{"event": "track_updated", "data": {"carrier": "usps"}}',
        b'{"event": "track_updated", "data": {"carrier": "usps", "tracking_number": "1",'
        b' "tracking_status": "DELIVERED"}}',
        b'{"event": "track_updated", "data": {"carrier": "usps", "tracking_number": "1",'
        b' "tracking_status": {"status": "DELIVERED", "status_date": "yesterday"}}}',
    ],
    ids=["text", "binary", "array", "no-data", "no-number", "status-text", "bad-date"],
)
def test_a_malformed_webhook_is_refused(body: bytes) -> None:
    with pytest.raises(ValueError):
        ShippoGateway.parse_webhook(body)
