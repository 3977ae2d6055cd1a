"""Events and webhooks: every change Stripe announces is recorded, signed and delivered, retried
until the receiver takes it, in order per object, and never at the cost of an API answer."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
import stripe

from emulators.stripe import create_app
from providers.errors import PaymentDeclinedError, ProviderRejectedError
from providers.stripe_adapter import StripeGateway
from tests.stripe_helpers import (
    API_KEY,
    FAST_RETRIES,
    WEBHOOK_SECRET,
    WebhookReceiver,
    control,
    paid_order,
    running_emulator,
    sdk_client,
    unique,
    wait_until,
)


@pytest.fixture(scope="module")
def emulator_url() -> Iterator[str]:
    with running_emulator(create_app(webhook_retry_schedule=FAST_RETRIES)) as url:
        yield url


@pytest.fixture
async def receiver(emulator_url: str) -> AsyncIterator[WebhookReceiver]:
    """A fresh endpoint per test, wired to the emulator at run time as the dev stack may do."""
    with WebhookReceiver() as receiver:
        config = {"url": receiver.url, "secret": WEBHOOK_SECRET, "retry_schedule": FAST_RETRIES}
        await control(emulator_url, "POST", "/_emulator/webhooks/config", config)
        yield receiver
        await control(emulator_url, "POST", "/_emulator/webhooks/config", {"url": None})


async def events_about(client: stripe.StripeClient, object_id: str) -> list[dict[str, Any]]:
    page = await client.v1.events.list_async(params={"limit": 100})
    return [e.to_dict() for e in page.data if e.data.object["id"] == object_id]


def types(events: list[dict[str, Any]]) -> list[str]:
    return [event["type"] for event in events]


async def delivery_of(emulator_url: str, event_id: str) -> dict[str, Any]:
    answer = await control(emulator_url, "GET", f"/_emulator/webhooks?event={event_id}")
    [delivery] = answer["deliveries"]
    return cast(dict[str, Any], delivery)


async def test_a_paid_order_announces_its_payment_intent_and_charge(
    gateway: StripeGateway, client: stripe.StripeClient, receiver: WebhookReceiver
) -> None:
    key = unique("charge")

    paid = await paid_order(gateway, key=key)

    intent_events = await events_about(client, paid.payment_intent_id)
    [charge_event] = await events_about(client, paid.charge_id)
    assert types(intent_events) == ["payment_intent.succeeded", "payment_intent.created"]
    assert intent_events[0]["data"]["object"]["status"] == "succeeded"
    assert intent_events[1]["data"]["object"]["status"] == "requires_confirmation"
    assert charge_event["type"] == "charge.succeeded"
    assert charge_event["data"]["object"]["amount_captured"] == 5000
    for event in (*intent_events, charge_event):
        assert event["id"].startswith("evt_")
        assert (event["object"], event["livemode"]) == ("event", False)
        assert event["api_version"] == stripe.api_version
        assert event["request"]["idempotency_key"] == key
        assert event["request"]["id"].startswith("req_")
    arrived = await receiver.wait_for(paid.payment_intent_id, 2)
    assert [r.event["type"] for r in arrived] == [
        "payment_intent.created",
        "payment_intent.succeeded",
    ]
    fetched = await client.v1.events.retrieve_async(charge_event["id"])
    assert fetched.data.object["id"] == paid.charge_id


async def test_a_declined_card_announces_the_failed_payment(
    gateway: StripeGateway, client: stripe.StripeClient
) -> None:
    customer_facing = unique("ord")
    with pytest.raises(PaymentDeclinedError):
        await paid_order(
            gateway,
            payment_method="pm_card_visa_chargeDeclinedInsufficientFunds",
            key=customer_facing,
        )
    page = await client.v1.events.list_async(
        params={"types": ["payment_intent.payment_failed", "charge.failed"], "limit": 100}
    )
    mine = [e for e in page.data if e.request and e.request.idempotency_key == customer_facing]

    assert types([e.to_dict() for e in mine]) == ["payment_intent.payment_failed", "charge.failed"]
    intent = mine[0].data.object
    assert intent["status"] == "requires_payment_method"
    assert intent["last_payment_error"]["decline_code"] == "insufficient_funds"
    assert mine[1].data.object["status"] == "failed"


async def test_a_refund_is_announced_by_refund_created_and_a_charge_refunded_without_refunds(
    gateway: StripeGateway, client: stripe.StripeClient, receiver: WebhookReceiver
) -> None:
    paid = await paid_order(gateway)

    # Straight through the API, as from the Stripe dashboard.
    made = await client.v1.refunds.create_async(
        params={
            "payment_intent": paid.payment_intent_id,
            "amount": 1200,
            "metadata": {"vendor_order_id": "vo-7"},
        }
    )

    [created] = await receiver.wait_for(made.id, 1)
    [_, refunded] = await receiver.wait_for(paid.charge_id, 2)
    refund_event = gateway.parse_webhook(created.body, created.signature, WEBHOOK_SECRET)
    charge_event = gateway.parse_webhook(refunded.body, refunded.signature, WEBHOOK_SECRET)
    assert refund_event["type"] == "refund.created"
    refund = refund_event["data"]["object"]
    assert (refund["id"], refund["amount"], refund["status"], refund["metadata"]) == (
        made.id,
        1200,
        "succeeded",
        {"vendor_order_id": "vo-7"},
    )
    assert (refund["payment_intent"], refund["charge"]) == (paid.payment_intent_id, paid.charge_id)
    assert charge_event["type"] == "charge.refunded"
    charge = charge_event["data"]["object"]
    assert (charge["amount_refunded"], charge["refunded"]) == (1200, False)
    # API version 2022-11-15 and later: the charge in the event does not list its refunds.
    assert "refunds" not in charge


async def test_a_pending_refund_is_announced_again_when_it_succeeds(
    gateway: StripeGateway,
    client: stripe.StripeClient,
    emulator_url: str,
    receiver: WebhookReceiver,
) -> None:
    paid = await paid_order(gateway, payment_method="pm_card_pendingRefund")
    made = await client.v1.refunds.create_async(
        params={"payment_intent": paid.payment_intent_id, "amount": 700}
    )

    moved = await control(
        emulator_url, "POST", f"/_emulator/refunds/{made.id}/status", {"status": "succeeded"}
    )

    assert (made.status, made.pending_reason) == ("pending", "processing")
    assert (moved["status"], moved["pending_reason"]) == ("succeeded", None)
    arrived = await receiver.wait_for(made.id, 3)
    assert [(r.event["type"], r.event["data"]["object"]["status"]) for r in arrived] == [
        ("refund.created", "pending"),
        ("refund.updated", "succeeded"),
        ("charge.refund.updated", "succeeded"),
    ]
    # Stripe moved it by itself: no API request caused the update.
    assert arrived[1].event["request"] == {"id": None, "idempotency_key": None}
    charge = await client.v1.charges.retrieve_async(paid.charge_id)
    assert charge.amount_refunded == 700


async def test_a_refund_that_fails_later_gives_the_amount_back_to_the_charge(
    gateway: StripeGateway,
    client: stripe.StripeClient,
    emulator_url: str,
    receiver: WebhookReceiver,
) -> None:
    paid = await paid_order(gateway, payment_method="pm_card_refundFail")
    made = await client.v1.refunds.create_async(
        params={"payment_intent": paid.payment_intent_id, "amount": 900}
    )
    refunded_before = (await client.v1.charges.retrieve_async(paid.charge_id)).amount_refunded

    await control(
        emulator_url, "POST", f"/_emulator/refunds/{made.id}/status", {"status": "failed"}
    )

    arrived = await receiver.wait_for(made.id, 4)
    assert [r.event["type"] for r in arrived] == [
        "refund.created",
        "refund.updated",
        "charge.refund.updated",
        "refund.failed",
    ]
    failed = await client.v1.refunds.retrieve_async(made.id)
    assert (made.status, failed.status, failed.failure_reason) == (
        "succeeded",
        "failed",
        "lost_or_stolen_card",
    )
    charge = await client.v1.charges.retrieve_async(paid.charge_id)
    assert (refunded_before, charge.amount_refunded, charge.refunded) == (900, 0, False)


@pytest.mark.parametrize(
    ("status", "answer"), [("pending", 409), ("succeeded", 409), ("refunded", 400), (None, 400)]
)
async def test_a_refund_cannot_move_where_stripe_never_moves_one_and_nothing_changes(
    gateway: StripeGateway,
    client: stripe.StripeClient,
    emulator_url: str,
    status: str | None,
    answer: int,
) -> None:
    paid = await paid_order(gateway)
    made = await client.v1.refunds.create_async(
        params={"payment_intent": paid.payment_intent_id, "amount": 500}
    )
    events_before = await events_about(client, made.id)

    async with httpx.AsyncClient(base_url=emulator_url) as http:
        refused = await http.post(f"/_emulator/refunds/{made.id}/status", json={"status": status})

    assert refused.status_code == answer
    assert (await client.v1.refunds.retrieve_async(made.id)).status == "succeeded"
    assert (await client.v1.charges.retrieve_async(paid.charge_id)).amount_refunded == 500
    assert await events_about(client, made.id) == events_before


async def test_a_payout_and_its_reversal_are_announced_with_the_transfer(
    gateway: StripeGateway, client: stripe.StripeClient
) -> None:
    paid = await paid_order(gateway)
    vendor = await gateway.create_connected_account(
        email="v@example.com", idempotency_key=unique("vendor"), metadata={}
    )
    transfer = await gateway.transfer(
        amount_cents=3000,
        currency="usd",
        destination=vendor,
        transfer_group=unique("order"),
        source_transaction=paid.charge_id,
        metadata={"vendor_order_id": "vo-1"},
        idempotency_key=unique("payout"),
    )

    await gateway.reverse_transfer(
        transfer_id=transfer.transfer_id,
        amount_cents=1000,
        metadata={},
        idempotency_key=unique("reversal"),
    )

    reversed_event, created_event = await events_about(client, transfer.transfer_id)
    assert types([created_event, reversed_event]) == ["transfer.created", "transfer.reversed"]
    assert created_event["data"]["object"]["amount_reversed"] == 0
    after = reversed_event["data"]["object"]
    assert (after["amount_reversed"], after["reversed"], after["reversals"]["total_count"]) == (
        1000,
        False,
        1,
    )


async def test_a_dispute_opens_and_closes_with_both_events_in_order(
    gateway: StripeGateway,
    client: stripe.StripeClient,
    emulator_url: str,
    receiver: WebhookReceiver,
) -> None:
    paid = await paid_order(gateway)

    opened = await control(
        emulator_url, "POST", "/_emulator/disputes", {"payment_intent": paid.payment_intent_id}
    )
    closed = await control(
        emulator_url, "POST", f"/_emulator/disputes/{opened['id']}/close", {"status": "won"}
    )

    assert opened["id"].startswith("dp_")
    assert (opened["object"], opened["status"], opened["reason"]) == (
        "dispute",
        "needs_response",
        "fraudulent",
    )
    assert (opened["charge"], opened["payment_intent"], opened["amount"]) == (
        paid.charge_id,
        paid.payment_intent_id,
        5000,
    )
    assert closed["status"] == "won"
    stored = await client.v1.disputes.retrieve_async(opened["id"])
    listed = await client.v1.disputes.list_async(params={"payment_intent": paid.payment_intent_id})
    assert stored.status == "won"
    assert [d.id for d in listed.data] == [opened["id"]]
    arrived = await receiver.wait_for(opened["id"], 2)
    sent = [r.event for r in arrived]
    assert [(e["type"], e["data"]["object"]["status"]) for e in sent] == [
        ("charge.dispute.created", "needs_response"),
        ("charge.dispute.closed", "won"),
    ]
    # Stripe opened it by itself, so no API request caused these events.
    assert sent[0]["request"] == {"id": None, "idempotency_key": None}
    async with httpx.AsyncClient(base_url=emulator_url) as http:
        again = await http.post(
            f"/_emulator/disputes/{opened['id']}/close", json={"status": "lost"}
        )
        second = await http.post(
            "/_emulator/disputes", json={"payment_intent": paid.payment_intent_id}
        )
    assert (again.status_code, second.status_code) == (409, 409)
    assert (await client.v1.disputes.retrieve_async(opened["id"])).status == "won"
    announced = await client.v1.events.list_async(params={"type": "charge.dispute.*"})
    assert [(e.type, e.data.object["id"]) for e in announced.data[:2]] == [
        ("charge.dispute.closed", opened["id"]),
        ("charge.dispute.created", opened["id"]),
    ]


async def test_webhooks_are_signed_as_stripe_signs_them_and_forgeries_are_refused(
    gateway: StripeGateway, receiver: WebhookReceiver
) -> None:
    paid = await paid_order(gateway)
    [delivered] = await receiver.wait_for(paid.charge_id, 1)
    assert delivered.signature is not None
    timestamp = int(delivered.signature.split(",")[0].removeprefix("t="))
    expected = stripe.WebhookSignature.generate_signature_header(
        delivered.body.decode(), WEBHOOK_SECRET, timestamp=timestamp
    )
    tampered = delivered.body.replace(b'"amount": 5000', b'"amount": 1')
    stale = stripe.WebhookSignature.generate_signature_header(
        delivered.body.decode(), WEBHOOK_SECRET, timestamp=int(time.time()) - 600
    )
    forged = (delivered.body, delivered.signature, "whsec_someone_else")

    event = stripe.Webhook.construct_event(delivered.body, delivered.signature, WEBHOOK_SECRET)
    parsed = gateway.parse_webhook(delivered.body, delivered.signature, WEBHOOK_SECRET)

    assert delivered.signature == expected
    assert (event.id, event.type) == (parsed["id"], "charge.succeeded")
    assert parsed == json.loads(delivered.body)
    for body, header, secret in [
        (tampered, delivered.signature, WEBHOOK_SECRET),
        (delivered.body, None, WEBHOOK_SECRET),
        (delivered.body, stale, WEBHOOK_SECRET),
        forged,
    ]:
        with pytest.raises(ProviderRejectedError) as refused:
            gateway.parse_webhook(body, header, secret)
        assert (refused.value.code, refused.value.http_status) == ("invalid_signature", 400)


async def test_a_receiver_that_fails_twice_gets_the_event_on_the_third_attempt(
    gateway: StripeGateway,
    client: stripe.StripeClient,
    emulator_url: str,
    receiver: WebhookReceiver,
) -> None:
    receiver.answer = lambda _event, seen: 500 if seen <= 2 else 200

    paid = await paid_order(gateway)

    arrived = await receiver.wait_for(paid.charge_id, 3)
    event_id = arrived[0].event["id"]
    assert {r.event["id"] for r in arrived} == {event_id}
    await wait_until(lambda: _status_is(emulator_url, event_id, "delivered"), within=5.0)
    delivery = await delivery_of(emulator_url, event_id)
    assert [a["status_code"] for a in delivery["attempts"]] == [500, 500, 200]
    assert (delivery["type"], delivery["object"], delivery["tries"]) == (
        "charge.succeeded",
        paid.charge_id,
        3,
    )
    assert (await client.v1.events.retrieve_async(event_id)).pending_webhooks == 0


async def test_a_receiver_that_keeps_failing_is_given_up_after_the_last_retry(
    gateway: StripeGateway,
    client: stripe.StripeClient,
    emulator_url: str,
    receiver: WebhookReceiver,
) -> None:
    receiver.answer = lambda _event, _seen: 503

    paid = await paid_order(gateway)

    arrived = await receiver.wait_for(paid.charge_id, len(FAST_RETRIES) + 1)
    event_id = arrived[0].event["id"]
    await wait_until(lambda: _status_is(emulator_url, event_id, "failed"))
    delivery = await delivery_of(emulator_url, event_id)
    assert [a["status_code"] for a in delivery["attempts"]] == [503] * (len(FAST_RETRIES) + 1)
    assert (await client.v1.events.retrieve_async(event_id)).pending_webhooks == 1
    failed = await client.v1.events.list_async(params={"delivery_success": False, "limit": 100})
    assert event_id in [e.id for e in failed.data]


async def _status_is(emulator_url: str, event_id: str, status: str) -> bool:
    return bool((await delivery_of(emulator_url, event_id))["status"] == status)


async def test_resend_delivers_an_event_again_for_receivers_to_prove_they_are_idempotent(
    gateway: StripeGateway, emulator_url: str, receiver: WebhookReceiver
) -> None:
    paid = await paid_order(gateway)
    [first] = await receiver.wait_for(paid.charge_id, 1)
    event_id = first.event["id"]
    await wait_until(lambda: _status_is(emulator_url, event_id, "delivered"))

    delivery = await control(emulator_url, "POST", f"/_emulator/events/{event_id}/resend")

    _, again = await receiver.wait_for(paid.charge_id, 2)
    assert (again.event["id"], again.event["data"]) == (event_id, first.event["data"])
    assert (
        stripe.Webhook.construct_event(again.body, again.signature, WEBHOOK_SECRET).id == event_id
    )
    assert [(a["status_code"], a["resend"]) for a in delivery["attempts"]] == [
        (200, False),
        (200, True),
    ]
    assert delivery["status"] == "delivered"


async def test_events_about_one_object_arrive_in_the_order_they_happened(
    gateway: StripeGateway, receiver: WebhookReceiver
) -> None:
    # Every event is refused once: the later event must still wait for the earlier one.
    receiver.answer = lambda _event, seen: 500 if seen == 1 else 200

    paid = await paid_order(gateway)

    arrived = await receiver.wait_for(paid.payment_intent_id, 4)
    assert [r.event["type"] for r in arrived] == [
        "payment_intent.created",
        "payment_intent.created",
        "payment_intent.succeeded",
        "payment_intent.succeeded",
    ]


async def test_a_slow_receiver_never_delays_an_api_answer(
    gateway: StripeGateway, receiver: WebhookReceiver
) -> None:
    receiver.delay = 1.0

    started = time.monotonic()
    paid = await paid_order(gateway)
    answered_in = time.monotonic() - started

    assert answered_in < 0.5
    await receiver.wait_for(paid.charge_id, 1)


async def test_without_a_webhook_url_events_are_kept_but_not_sent(
    gateway: StripeGateway, client: stripe.StripeClient, emulator_url: str
) -> None:
    paid = await paid_order(gateway)

    [event] = await events_about(client, paid.charge_id)
    settings = await control(emulator_url, "GET", f"/_emulator/webhooks?event={event['id']}")
    assert (event["type"], event["pending_webhooks"]) == ("charge.succeeded", 0)
    assert (settings["url"], settings["deliveries"]) == (None, [])


@pytest.mark.parametrize(
    "body",
    [
        {"url": "http://127.0.0.1:9/hooks", "secret": None},
        {"retry_schedule": [1, -1]},
        {"retry_schedule": "1,2"},
    ],
)
async def test_a_webhook_configuration_that_cannot_work_is_refused_and_changes_nothing(
    emulator_url: str, body: dict[str, Any]
) -> None:
    before = await control(emulator_url, "GET", "/_emulator/webhooks?status=none")

    async with httpx.AsyncClient(base_url=emulator_url) as http:
        answer = await http.post("/_emulator/webhooks/config", json=body)

    assert answer.status_code == 400
    assert await control(emulator_url, "GET", "/_emulator/webhooks?status=none") == before


async def test_an_undelivered_event_survives_a_restart_and_is_delivered_after_it(
    tmp_path: Path,
) -> None:
    state = tmp_path / "stripe.json"
    with WebhookReceiver() as receiver:
        receiver.answer = lambda _event, _seen: 503  # the API is down
        settings: dict[str, Any] = {
            "state_path": state,
            "webhook_url": receiver.url,
            "webhook_secret": WEBHOOK_SECRET,
            "webhook_retry_schedule": [0.1] * 50,
        }
        with running_emulator(create_app(**settings)) as url:
            gateway = StripeGateway.connect(API_KEY, url)
            try:
                paid = await paid_order(gateway)
            finally:
                await gateway.aclose()
            await receiver.wait_for(paid.charge_id, 1)
        receiver.answer = lambda _event, _seen: 200  # the API is back

        with running_emulator(create_app(**settings)) as url:
            arrived = await receiver.wait_for(paid.charge_id, 2)
            event_id = arrived[-1].event["id"]
            await wait_until(lambda: _status_is(url, event_id, "delivered"))
            async with sdk_client(url) as client:
                kept = await client.v1.payment_intents.retrieve_async(paid.payment_intent_id)

    assert arrived[-1].event["type"] == "charge.succeeded"
    assert {r.event["id"] for r in arrived} == {event_id}
    assert kept.status == "succeeded"
    saved = json.loads(state.read_text())
    assert saved["deliveries"][event_id]["status"] == "delivered"
    assert [a["status_code"] for a in saved["deliveries"][event_id]["attempts"]][-1] == 200
