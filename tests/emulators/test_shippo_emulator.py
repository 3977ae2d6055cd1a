"""The Shippo emulator behaves like Shippo for everything the official SDK asks of it."""

from __future__ import annotations

import json
import time
from decimal import Decimal
from pathlib import Path

import pytest
import requests
import shippo
from shippo import utils
from shippo.models import components, operations
from shippo.models.errors import SDKError

from providers.shippo_adapter import ShippoGateway
from tests.shippo_helpers import (
    AUTO_ADVANCE_SECONDS,
    WEBHOOK_TOKEN,
    WebhookReceiver,
    control,
    raw,
    running_emulator,
    sdk_client,
    shipment_request,
    transactions_with,
    unique,
    unique_number,
)

SUCCESS = components.TransactionStatusEnum.SUCCESS


def buy(client: shippo.Shippo, rate_id: str, metadata: str) -> components.Transaction:
    return client.transactions.create(
        components.TransactionCreateRequest(rate=rate_id, async_=False, metadata=metadata)
    )


def cheapest_rate(client: shippo.Shippo) -> components.Rate:
    shipment = client.shipments.create(shipment_request())
    return min(shipment.rates, key=lambda rate: Decimal(rate.amount))


def shipment_count(base_url: str) -> int:
    return int(control(base_url, "GET", "/_emulator/counts").get("shipment", 0))


# --- shipments and rates ---------------------------------------------------------------------


def test_a_shipment_offers_cheaper_slower_and_dearer_faster_rates(
    shippo_sdk: shippo.Shippo,
) -> None:
    shipment = shippo_sdk.shipments.create(shipment_request(metadata="order-1"))

    assert shipment.status == components.ShipmentStatus.SUCCESS
    assert shipment.metadata == "order-1"
    assert len(shipment.rates) >= 4
    assert {rate.provider for rate in shipment.rates} >= {"USPS", "UPS", "Shippo"}
    for rate in shipment.rates:
        assert Decimal(rate.amount) > 0
        assert Decimal(rate.amount) == Decimal(rate.amount).quantize(Decimal("0.01"))
        assert (rate.currency, rate.shipment) == ("USD", shipment.object_id)
        assert rate.servicelevel.token and rate.servicelevel.name
        assert rate.estimated_days is not None
    cheapest = min(shipment.rates, key=lambda rate: Decimal(rate.amount))
    fastest = min(shipment.rates, key=lambda rate: (rate.estimated_days, Decimal(rate.amount)))
    assert cheapest.attributes == [components.Attributes.CHEAPEST]
    assert components.Attributes.FASTEST in fastest.attributes
    assert cast_days(cheapest) > cast_days(fastest)
    assert Decimal(cheapest.amount) < Decimal(fastest.amount)


def cast_days(rate: components.Rate) -> int:
    assert rate.estimated_days is not None
    return rate.estimated_days


def test_the_same_parcel_always_costs_the_same_and_a_heavier_one_more(
    shippo_sdk: shippo.Shippo,
) -> None:
    def prices(weight: int) -> dict[str, Decimal]:
        shipment = shippo_sdk.shipments.create(shipment_request(weight_grams=weight))
        return {r.servicelevel.token or "": Decimal(r.amount) for r in shipment.rates}

    light, again, heavy = prices(500), prices(500), prices(4000)

    assert light == again
    assert light.keys() == heavy.keys()
    assert all(heavy[token] > light[token] for token in light)


def test_a_shipment_and_its_rates_read_back_as_created(shippo_sdk: shippo.Shippo) -> None:
    created = shippo_sdk.shipments.create(shipment_request())

    fetched = shippo_sdk.shipments.get(created.object_id)
    listed = shippo_sdk.rates.list_shipment_rates(created.object_id)
    one = shippo_sdk.rates.get(created.rates[0].object_id)
    newest = shippo_sdk.shipments.list(operations.ListShipmentsRequest(results=1))

    assert fetched.object_id == created.object_id
    assert [r.object_id for r in fetched.rates] == [r.object_id for r in created.rates]
    assert [r.object_id for r in listed.results or []] == [r.object_id for r in created.rates]
    assert (one.object_id, one.amount) == (created.rates[0].object_id, created.rates[0].amount)
    assert fetched.parcels[0].weight == "500"
    assert fetched.address_to.city == "San Francisco"
    assert [s.object_id for s in newest.results or []] == [created.object_id]


def test_a_shipment_without_parcels_is_refused_and_nothing_is_kept(
    shippo_sdk: shippo.Shippo, shippo_emulator: str
) -> None:
    before = shipment_count(shippo_emulator)
    request = shipment_request()
    request.parcels = []

    with pytest.raises(SDKError) as refused:
        shippo_sdk.shipments.create(request)

    assert refused.value.status_code == 400
    assert "parcels" in refused.value.body
    assert shipment_count(shippo_emulator) == before


# --- labels ------------------------------------------------------------------------------------


def test_every_purchase_of_a_rate_buys_another_label(
    shippo_sdk: shippo.Shippo, shippo_emulator: str
) -> None:
    rate = cheapest_rate(shippo_sdk)
    reference = unique("vo")

    first = buy(shippo_sdk, rate.object_id, reference)
    second = buy(shippo_sdk, rate.object_id, reference)

    assert (first.status, second.status) == (SUCCESS, SUCCESS)
    assert first.object_id != second.object_id
    assert first.tracking_number and second.tracking_number
    assert first.tracking_number != second.tracking_number
    assert (first.rate, first.metadata, first.created_by) == (rate.object_id, reference, None)
    assert first.label_url and first.tracking_url_provider
    assert first.tracking_number in first.tracking_url_provider
    sold = transactions_with(shippo_emulator, reference)
    assert [t["object_id"] for t in sold] == [second.object_id, first.object_id]
    label = raw("GET", first.label_url)
    assert (label.status_code, label.content[:5]) == (200, b"%PDF-")


def test_labels_are_listed_newest_first_a_page_at_a_time(shippo_sdk: shippo.Shippo) -> None:
    rate = cheapest_rate(shippo_sdk)
    bought = [buy(shippo_sdk, rate.object_id, unique("vo")).object_id for _ in range(3)]

    first = shippo_sdk.transactions.list(operations.ListTransactionsRequest(page=1, results=2))
    second = shippo_sdk.transactions.list(operations.ListTransactionsRequest(page=2, results=2))

    assert [t.object_id for t in first.results or []] == [bought[2], bought[1]]
    assert [t.object_id for t in (second.results or [])[:1]] == [bought[0]]
    assert first.previous is None
    assert first.next is not None and "page=2" in first.next
    assert second.previous is not None and "page=1" in second.previous


def test_labels_can_be_listed_for_one_rate(shippo_sdk: shippo.Shippo) -> None:
    rate = cheapest_rate(shippo_sdk)
    bought = buy(shippo_sdk, rate.object_id, unique("vo"))

    listed = shippo_sdk.transactions.list(operations.ListTransactionsRequest(rate=rate.object_id))

    assert [t.object_id for t in listed.results or []] == [bought.object_id]
    assert listed.next is None


def test_an_asynchronous_purchase_is_queued_and_then_succeeds(shippo_sdk: shippo.Shippo) -> None:
    rate = cheapest_rate(shippo_sdk)
    # The SDK's default: async=True.
    queued = shippo_sdk.transactions.create(
        components.TransactionCreateRequest(rate=rate.object_id, metadata=unique("vo"))
    )

    assert queued.status == components.TransactionStatusEnum.QUEUED
    assert not queued.tracking_number
    deadline = time.monotonic() + 5
    while (done := shippo_sdk.transactions.get(queued.object_id or "")).status != SUCCESS:
        assert time.monotonic() < deadline, "the queued label never succeeded"
        time.sleep(0.05)
    assert done.tracking_number and done.label_url


def test_a_label_registers_its_parcel_for_tracking(shippo_sdk: shippo.Shippo) -> None:
    rate = cheapest_rate(shippo_sdk)
    label = buy(shippo_sdk, rate.object_id, unique("vo"))

    track = shippo_sdk.tracking_status.get(
        tracking_number=label.tracking_number or "", carrier=rate.provider.lower()
    )

    assert track.transaction == label.object_id
    assert track.tracking_status is not None
    assert track.tracking_status.status == components.TrackingStatusEnum.PRE_TRANSIT
    assert label.tracking_status == components.TrackingStatusEnum.PRE_TRANSIT


def test_an_unknown_rate_cannot_be_bought(shippo_sdk: shippo.Shippo) -> None:
    with pytest.raises(SDKError) as refused:
        buy(shippo_sdk, "0" * 32, unique("vo"))

    assert refused.value.status_code == 400
    assert "rate" in refused.value.body and "not found" in refused.value.body


def test_a_label_for_an_incomplete_address_fails_with_an_error_transaction(
    shippo_sdk: shippo.Shippo,
) -> None:
    # Shippo quotes rates for an address it could not label.
    shipment = shippo_sdk.shipments.create(shipment_request(street1=""))

    label = buy(shippo_sdk, shipment.rates[0].object_id, unique("vo"))

    assert label.status == components.TransactionStatusEnum.ERROR
    assert not label.tracking_number
    assert label.messages and "incomplete" in (label.messages[0].text or "")


@pytest.mark.parametrize(
    ("street1", "city", "zip_code", "why"),
    [
        # What labels were once bought with: the warehouse's name as street, its zip as city.
        ("Acme main", "10001", "10001", "address_from.city '10001'"),
        ("Acme main", "M5V 2T6", "M5V2T6", "address_from.city 'M5V 2T6'"),
        ("1 Dock Road, Building 7, Industrial Park", "Newark", "07102", "street1 is longer"),
    ],
)
def test_a_label_for_an_address_a_carrier_cannot_print_fails_with_an_error_transaction(
    shippo_sdk: shippo.Shippo, street1: str, city: str, zip_code: str, why: str
) -> None:
    # Shippo quotes it (a quote needs only a country), then refuses the label.
    shipment = shippo_sdk.shipments.create(
        shipment_request(street1=street1, city=city, zip_code=zip_code)
    )
    assert shipment.rates

    label = buy(shippo_sdk, shipment.rates[0].object_id, unique("vo"))

    assert label.status == components.TransactionStatusEnum.ERROR
    assert not label.tracking_number and not label.label_url
    assert label.messages and why in (label.messages[0].text or "")
    assert label.messages[0].code == "address_invalid"


def test_an_unknown_object_is_not_found(shippo_sdk: shippo.Shippo) -> None:
    with pytest.raises(SDKError) as missing:
        shippo_sdk.transactions.get("f" * 32)

    assert missing.value.status_code == 404


# --- authentication ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer shippo_test_emulator"}, {"Authorization": "ShippoToken"}],
    ids=["none", "bearer", "empty-token"],
)
def test_a_request_without_a_shippo_token_is_refused_and_changes_nothing(
    shippo_emulator: str, headers: dict[str, str]
) -> None:
    before = shipment_count(shippo_emulator)
    body = utils.marshal_json(shipment_request(), components.ShipmentCreateRequest)

    answer = raw(
        "POST",
        f"{shippo_emulator}/shipments",
        content=body,
        headers={**headers, "Content-Type": "application/json"},
    )

    assert answer.status_code == 401
    assert "detail" in answer.json()
    assert shipment_count(shippo_emulator) == before


def test_a_key_the_sdk_sends_without_its_scheme_is_refused(shippo_emulator: str) -> None:
    # The SDK adds "ShippoToken " only to keys that start with "shippo_".
    client = sdk_client(shippo_emulator, api_key="not-a-shippo-key")

    with pytest.raises(SDKError) as refused:
        client.shipments.create(shipment_request())

    assert refused.value.status_code == 401


# --- tracking and webhooks ---------------------------------------------------------------------


def test_moving_a_parcel_sends_a_track_updated_webhook_with_the_token(
    shippo_emulator: str, shippo_webhooks: WebhookReceiver
) -> None:
    number = unique_number("VENDOR")

    moved = control(
        shippo_emulator, "POST", f"/_emulator/tracks/usps/{number}", {"status": "DELIVERED"}
    )

    (arrived,) = shippo_webhooks.wait_for(number, 1)
    assert arrived.token == WEBHOOK_TOKEN
    payload = utils.unmarshal_json(arrived.body.decode(), components.WebhookPayloadTrack)
    assert (payload.event, payload.test) == (components.WebhookEventTypeEnum.TRACK_UPDATED, True)
    assert payload.data is not None and payload.data.tracking_status is not None
    assert (payload.data.carrier, payload.data.tracking_number) == ("usps", number)
    assert payload.data.tracking_status.status == components.TrackingStatusEnum.DELIVERED
    assert payload.data.tracking_status.object_id == moved["tracking_status"]["object_id"]
    assert [event["status"] for event in moved["tracking_history"]] == ["UNKNOWN", "DELIVERED"]


def test_a_shippo_delivered_number_goes_through_transit_to_delivered_by_itself(
    shippo_sdk: shippo.Shippo, shippo_webhooks: WebhookReceiver
) -> None:
    number = unique_number("SHIPPO_DELIVERED")

    registered = shippo_sdk.tracking_status.create(
        carrier="shippo", tracking_number=number, metadata="vo-1"
    )

    assert registered.tracking_status is not None
    assert registered.tracking_status.status == components.TrackingStatusEnum.PRE_TRANSIT
    arrived = shippo_webhooks.wait_for(number, 2)
    assert [r.status for r in arrived] == ["TRANSIT", "DELIVERED"]
    assert len({r.payload["data"]["tracking_status"]["object_id"] for r in arrived}) == 2
    track = shippo_sdk.tracking_status.get(tracking_number=number, carrier="shippo")
    assert [e.status.value for e in track.tracking_history] == [
        "PRE_TRANSIT",
        "TRANSIT",
        "DELIVERED",
    ]
    assert track.metadata == "vo-1"


def test_the_test_carriers_numbers_end_in_their_status_by_themselves(
    shippo_sdk: shippo.Shippo, shippo_emulator: str, shippo_webhooks: WebhookReceiver
) -> None:
    expected = {
        unique_number("SHIPPO_PRE_TRANSIT"): [],
        unique_number("SHIPPO_TRANSIT"): ["TRANSIT"],
        unique_number("SHIPPO_RETURNED"): ["TRANSIT", "RETURNED"],
        unique_number("SHIPPO_FAILURE"): ["TRANSIT", "FAILURE"],
    }

    for number in expected:
        shippo_sdk.tracking_status.create(carrier="shippo", tracking_number=number)

    for number, steps in expected.items():
        shippo_webhooks.wait_for(number, len(steps))
    time.sleep(4 * AUTO_ADVANCE_SECONDS)  # time for more steps: none come
    assert {n: [r.status for r in shippo_webhooks.about(n)] for n in expected} == expected


def test_moving_a_test_carriers_parcel_by_hand_sends_its_webhook(
    shippo_sdk: shippo.Shippo, shippo_emulator: str, shippo_webhooks: WebhookReceiver
) -> None:
    number = unique_number("SHIPPO_PRE_TRANSIT")
    shippo_sdk.tracking_status.create(carrier="shippo", tracking_number=number)

    control(shippo_emulator, "POST", f"/_emulator/tracks/shippo/{number}", {"status": "transit"})

    assert [r.status for r in shippo_webhooks.wait_for(number, 1)] == ["TRANSIT"]
    track = shippo_sdk.tracking_status.get(tracking_number=number, carrier="shippo")
    assert [e.status.value for e in track.tracking_history] == ["PRE_TRANSIT", "TRANSIT"]


def test_a_failing_receiver_gets_the_same_update_again_until_it_takes_it(
    shippo_emulator: str, shippo_webhooks: WebhookReceiver
) -> None:
    number = unique_number("VENDOR")
    shippo_webhooks.answer = lambda _payload, seen: 500 if seen < 3 else 200

    control(shippo_emulator, "POST", f"/_emulator/tracks/ups/{number}", {"status": "TRANSIT"})

    arrived = shippo_webhooks.wait_for(number, 3)
    assert len({r.payload["data"]["tracking_status"]["object_id"] for r in arrived}) == 1
    deadline = time.monotonic() + 5
    while True:
        (delivery,) = control(
            shippo_emulator, "GET", f"/_emulator/webhooks?tracking_number={number}"
        )["deliveries"]
        if delivery["status"] != "pending" or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    assert delivery["status"] == "delivered"
    assert [a["status_code"] for a in delivery["attempts"]] == [500, 500, 200]


def test_a_resent_webhook_repeats_the_same_tracking_event(
    shippo_emulator: str, shippo_webhooks: WebhookReceiver
) -> None:
    number = unique_number("VENDOR")
    control(shippo_emulator, "POST", f"/_emulator/tracks/usps/{number}", {"status": "DELIVERED"})
    shippo_webhooks.wait_for(number, 1)

    control(
        shippo_emulator,
        "POST",
        "/_emulator/webhooks/resend",
        {"carrier": "usps", "tracking_number": number},
    )

    first, again = shippo_webhooks.wait_for(number, 2)
    assert first.payload == again.payload


def test_an_unknown_status_is_refused_by_the_control(shippo_emulator: str) -> None:
    answer = raw("POST", f"{shippo_emulator}/_emulator/tracks/usps/X1", json={"status": "LOST"})

    assert answer.status_code == 400


# --- faults ------------------------------------------------------------------------------------


@pytest.mark.usefixtures("shippo_faults_cleared")
@pytest.mark.parametrize(("mode", "status"), [("error_500", 500), ("rate_limit_429", 429)])
def test_an_injected_failure_answers_its_status_and_creates_nothing(
    shippo_sdk: shippo.Shippo, shippo_emulator: str, mode: str, status: int
) -> None:
    before = shipment_count(shippo_emulator)
    control(shippo_emulator, "POST", "/_emulator/faults", {"rate": 1.0, "modes": [mode]})

    with pytest.raises(SDKError) as failed:
        shippo_sdk.shipments.create(shipment_request())

    assert failed.value.status_code == status
    assert shipment_count(shippo_emulator) == before


@pytest.mark.usefixtures("shippo_faults_cleared")
def test_a_lost_answer_still_bought_the_label(shippo_emulator: str) -> None:
    client = sdk_client(shippo_emulator, timeout=0.2)
    rate = cheapest_rate(client)
    reference = unique("vo")
    control(
        shippo_emulator,
        "POST",
        "/_emulator/faults",
        {"rate": 1.0, "modes": ["timeout_after"], "methods": ["POST"], "paths": ["/transactions"]},
    )

    with pytest.raises(requests.Timeout):
        buy(client, rate.object_id, reference)

    assert [t["status"] for t in transactions_with(shippo_emulator, reference)] == ["SUCCESS"]


@pytest.mark.usefixtures("shippo_faults_cleared")
def test_a_request_lost_on_its_way_in_buys_nothing(shippo_emulator: str) -> None:
    client = sdk_client(shippo_emulator, timeout=0.2)
    rate = cheapest_rate(client)
    reference = unique("vo")
    control(shippo_emulator, "POST", "/_emulator/faults", {"modes": ["timeout_before"]})

    with pytest.raises(requests.Timeout):
        buy(client, rate.object_id, reference)

    assert transactions_with(shippo_emulator, reference) == []


@pytest.mark.usefixtures("shippo_faults_cleared")
def test_faults_limited_by_count_stop_by_themselves(
    shippo_sdk: shippo.Shippo, shippo_emulator: str
) -> None:
    control(shippo_emulator, "POST", "/_emulator/faults", {"modes": ["error_500"], "count": 1})

    with pytest.raises(SDKError):
        shippo_sdk.shipments.create(shipment_request())
    shipment = shippo_sdk.shipments.create(shipment_request())

    assert shipment.status == components.ShipmentStatus.SUCCESS
    assert control(shippo_emulator, "GET", "/_emulator/faults")["rate"] == 0.0


# --- restart -----------------------------------------------------------------------------------


def test_objects_and_scheduled_moves_survive_a_restart(tmp_path: Path) -> None:
    number = unique_number("SHIPPO_TRANSIT")
    # Slow enough that the parcel is still waiting to move when the emulator stops.
    with running_emulator(tmp_path, auto_advance_seconds=0.6) as url:
        client = sdk_client(url)
        rate = cheapest_rate(client)
        label = buy(client, rate.object_id, "vo-restart")
        client.tracking_status.create(carrier="shippo", tracking_number=number)

    kept_jobs = json.loads((tmp_path / "state.json").read_text())["jobs"]
    assert [(job["kind"], job["status"]) for job in kept_jobs] == [("track_step", "TRANSIT")]
    with running_emulator(tmp_path) as url:
        client = sdk_client(url)
        kept = client.transactions.get(label.object_id or "")
        assert (kept.tracking_number, kept.metadata) == (label.tracking_number, "vo-restart")
        assert client.rates.get(rate.object_id).amount == rate.amount
        deadline = time.monotonic() + 5
        while True:
            track = client.tracking_status.get(tracking_number=number, carrier="shippo")
            assert track.tracking_status is not None
            if track.tracking_status.status == components.TrackingStatusEnum.TRANSIT:
                break
            assert time.monotonic() < deadline, "the parcel did not move after the restart"
            time.sleep(0.05)


def test_a_track_updated_webhook_reads_the_same_through_the_adapter_as_through_the_sdk(
    shippo_emulator: str, shippo_webhooks: WebhookReceiver
) -> None:
    # The webhook route reads the payload by hand (ShippoGateway.parse_webhook): every field
    # it reads must be where Shippo, and the SDK's WebhookPayloadTrack, put it.
    number = unique_number("AUDIT")
    control(shippo_emulator, "POST", f"/_emulator/tracks/usps/{number}", {"status": "TRANSIT"})

    (arrived,) = shippo_webhooks.wait_for(number, 1)
    payload = utils.unmarshal_json(arrived.body.decode(), components.WebhookPayloadTrack)
    update = ShippoGateway.parse_webhook(arrived.body)

    assert payload.data is not None and payload.data.tracking_status is not None
    status = payload.data.tracking_status
    assert update is not None
    assert (update.carrier, update.tracking_number, update.status) == ("usps", number, "TRANSIT")
    assert update.status_id == status.object_id
    assert status.status_date is not None
    assert update.status_date == status.status_date.replace(tzinfo=update.status_date.tzinfo)
