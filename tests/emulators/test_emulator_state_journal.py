"""The emulators' state file and journal (emulators/journal.py): every answered change
survives a restart, a clean stop or a crash, while a request writes only what it changed."""

from __future__ import annotations

import asyncio
import json
import signal
from pathlib import Path
from typing import Any

import pytest

from devstack import free_port
from devstack.emulators import start_emulator
from emulators.journal import journal_path, replay
from emulators.stripe import create_app, payments
from emulators.stripe import params as p
from emulators.stripe.state import Store
from providers.stripe_adapter import StripeGateway
from tests import shippo_helpers
from tests.stripe_helpers import (
    API_KEY,
    WEBHOOK_SECRET,
    WebhookReceiver,
    control,
    paid_order,
    running_emulator,
    sdk_client,
    unique,
    wait_until,
)

pytestmark = pytest.mark.filterwarnings("ignore:Use 'content=<...>':DeprecationWarning")


def kept_after_a_crash(state_file: Path) -> dict[str, Any]:
    """What a restart would find if the emulator died now: the snapshot with the journal
    replayed over it, read without folding them, since the emulator may still be running."""
    state: dict[str, Any] = {}
    if state_file.exists():
        state = json.loads(state_file.read_text())
    journal = journal_path(state_file)
    if journal.exists():
        replay(journal.read_bytes(), state)
    return state


def journal_lines(state_file: Path) -> list[list[Any]]:
    journal = journal_path(state_file)
    text = journal.read_text() if journal.exists() else ""
    return [json.loads(line) for line in text.splitlines()]


def paid_intent(store: Store, number: int) -> None:
    """A paid PaymentIntent made by the emulator's own handler, without HTTP."""
    form = "amount=5000&currency=usd&confirm=true&payment_method=pm_card_visa"
    payments.create_payment_intent(store, p.decode(f"{form}&metadata[n]={number}"), ())


def webhook_settings(state: Path, receiver: WebhookReceiver) -> dict[str, Any]:
    # One retry a minute away: after its first attempt, no delivery changes during a test.
    return {
        "state_path": state,
        "webhook_url": receiver.url,
        "webhook_secret": WEBHOOK_SECRET,
        "webhook_retry_schedule": [60.0],
    }


async def first_attempts_made(url: str) -> bool:
    """Each object's first queued event has been tried once (the others wait behind it)."""
    deliveries = (await control(url, "GET", "/_emulator/webhooks"))["deliveries"]
    first: dict[str, dict[str, Any]] = {}
    for delivery in deliveries:
        first.setdefault(delivery["object"], delivery)
    return bool(first) and all(d["tries"] >= 1 for d in first.values())


async def test_a_restarted_emulator_remembers_every_object_and_idempotent_answer(
    tmp_path: Path,
) -> None:
    state = tmp_path / "stripe.json"
    with WebhookReceiver() as receiver:
        receiver.answer = lambda _event, _seen: 503  # deliveries stay queued, with attempts
        settings = webhook_settings(state, receiver)
        with running_emulator(create_app(**settings)) as url:
            gateway = StripeGateway.connect(API_KEY, url)
            try:
                account = await gateway.create_connected_account(
                    email="vendor@example.test", idempotency_key=unique("acct"), metadata={}
                )
                paid = await paid_order(gateway, key="restart-charge", order_id="ord-restart")
                await gateway.transfer(
                    amount_cents=3000,
                    currency="usd",
                    destination=account,
                    transfer_group="order-ord-restart",
                    source_transaction=paid.charge_id,
                    metadata={},
                    idempotency_key=unique("transfer"),
                )
                await gateway.refund(
                    payment_intent_id=paid.payment_intent_id,
                    amount_cents=1000,
                    metadata={},
                    idempotency_key=unique("refund"),
                )
            finally:
                await gateway.aclose()
            await control(url, "POST", f"/_emulator/accounts/{account}/restrict", {})
            await wait_until(lambda: first_attempts_made(url))
            before = await control(url, "GET", "/_emulator/state")
            after_a_crash = kept_after_a_crash(state)
        after_a_stop = json.loads(state.read_text())

        with running_emulator(create_app(**settings)) as url:
            gateway = StripeGateway.connect(API_KEY, url)
            try:
                replayed = await paid_order(gateway, key="restart-charge", order_id="ord-restart")
            finally:
                await gateway.aclose()

    assert all(before[part] for part in ("objects", "idempotency", "deliveries", "account_state"))
    assert after_a_crash == before
    assert after_a_stop == before
    assert not journal_path(state).exists()
    assert replayed == paid


async def test_a_request_writes_only_the_records_it_changed(tmp_path: Path) -> None:
    state = tmp_path / "stripe.json"
    store = Store(state)
    for number in range(200):
        paid_intent(store, number)
    store.close()
    preloaded = {kind: set(objects) for kind, objects in store.objects.items()}

    with running_emulator(create_app(state_path=state)) as url:
        async with sdk_client(url) as client:
            intent = await client.v1.payment_intents.create_async(
                params={"amount": 2000, "currency": "usd", "payment_method": "pm_card_visa"},
                options={"idempotency_key": unique("intent")},
            )
            await client.v1.payment_intents.confirm_async(intent.id)
        lines = journal_lines(state)

    # One line per change: the PaymentIntent created, then confirmed (the PaymentIntent again,
    # its charge, two events), each with the answer kept for its key (the SDK sends one with
    # every POST). Nothing preloaded.
    written = [
        [path[1] if path[0] == "objects" else path[0] for path, *_ in line] for line in lines
    ]
    assert [sorted(kinds) for kinds in written] == [
        ["event", "idempotency", "payment_intent"],
        ["charge", "event", "event", "idempotency", "payment_intent"],
    ]
    assert not any(
        path[0] == "objects" and path[2] in preloaded.get(path[1], set())
        for line in lines
        for path, *_ in line
    )


async def test_a_webhook_resent_while_other_requests_save_keeps_its_attempt(
    tmp_path: Path,
) -> None:
    state = tmp_path / "stripe.json"
    with WebhookReceiver() as receiver:
        with running_emulator(create_app(**webhook_settings(state, receiver))) as url:
            gateway = StripeGateway.connect(API_KEY, url)
            try:
                paid = await paid_order(gateway)
                event_id = (await receiver.wait_for(paid.charge_id, 1))[0].event["id"]
                # The resend holds the delivery while the receiver takes its time to answer...
                receiver.delay = 0.5
                resend = asyncio.create_task(
                    control(url, "POST", f"/_emulator/events/{event_id}/resend")
                )
                await asyncio.sleep(0.2)
                receiver.delay = 0.0
                # ...and another request keeps its own change in the meantime.
                await paid_order(gateway)
                await resend
            finally:
                await gateway.aclose()
            kept = kept_after_a_crash(state)

    attempts = kept["deliveries"][event_id]["attempts"]
    assert [(a["resend"], a["status_code"]) for a in attempts] == [(False, 200), (True, 200)]


def test_a_torn_last_journal_line_is_ignored_on_restart(tmp_path: Path) -> None:
    state = tmp_path / "stripe.json"
    store = Store(state)
    paid_intent(store, 1)
    store.save()
    kept = json.loads(json.dumps(store.dump()))
    # The emulator died while appending its next line: no newline, half a record.
    with journal_path(state).open("ab") as journal:
        journal.write(b'[[["objects","charge","ch_torn"],{"id":"ch_to')

    restarted = Store(state)

    assert restarted.dump() == kept
    assert restarted.get("charge", "ch_torn") is None
    assert json.loads(state.read_text()) == kept
    assert not journal_path(state).exists()


def test_an_unreadable_line_before_the_last_stops_the_restart(tmp_path: Path) -> None:
    state = tmp_path / "stripe.json"
    journal_path(state).write_bytes(b'[[["objects","charge","ch_1"],{"id":"ch_1"}]]\n{oops\n[]\n')

    with pytest.raises(ValueError, match="line 2"):
        Store(state)


def test_the_journal_is_compacted_on_restart(tmp_path: Path) -> None:
    state = tmp_path / "stripe.json"
    store = Store(state)
    for number in range(3):
        paid_intent(store, number)
        store.save()
    assert not state.exists()
    assert len(journal_lines(state)) == 3

    restarted = Store(state)

    assert not journal_path(state).exists()
    assert json.loads(state.read_text()) == json.loads(json.dumps(store.dump()))
    assert restarted.dump() == store.dump()
    # Saving again starts a new journal beside the new snapshot.
    paid_intent(restarted, 4)
    restarted.save()
    assert len(journal_lines(state)) == 1


def test_a_removed_record_stays_removed_after_a_restart(tmp_path: Path) -> None:
    state = tmp_path / "stripe.json"
    store = Store(state)
    store.deliveries["evt_1"] = {"event": "evt_1", "status": "failed"}
    store.deliveries["evt_2"] = {"event": "evt_2", "status": "failed"}
    store.close()
    # Loaded from the snapshot, never written by this process, then removed.
    restarted = Store(state)
    del restarted.deliveries["evt_1"]
    restarted.save()

    assert kept_after_a_crash(state)["deliveries"] == {"evt_2": restarted.deliveries["evt_2"]}


async def test_a_reset_survives_a_restart(tmp_path: Path) -> None:
    state = tmp_path / "stripe.json"
    with running_emulator(create_app(state_path=state)) as url:
        async with sdk_client(url) as client:
            await client.v1.accounts.create_async(params={"type": "express"})
        await control(url, "POST", "/_emulator/reset")
        after_a_crash = kept_after_a_crash(state)

    with running_emulator(create_app(state_path=state)) as url:
        async with sdk_client(url) as client:
            accounts = await client.v1.accounts.list_async()

    assert after_a_crash == {
        "objects": {},
        "idempotency": {},
        "deliveries": {},
        "account_state": {},
    }
    assert accounts.data == []


def test_a_killed_shippo_emulator_keeps_every_label_and_move_it_answered(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    port = free_port()
    # Parcels move a minute apart: nothing changes by itself during the test.
    process = start_emulator(
        "emulators.shippo",
        port,
        state,
        tmp_path / "killed.log",
        ["--auto-advance-seconds", "60"],
        poll_interval=0.05,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        client = shippo_helpers.sdk_client(url)
        shipment = client.shipments.create(shippo_helpers.shipment_request(metadata="vo-killed"))
        rate = shipment.rates[0].object_id
        client.transactions.create(
            shippo_helpers.components.TransactionCreateRequest(
                rate=rate, async_=False, metadata="vo-1"
            )
        )
        number = shippo_helpers.unique_number("SHIPPO_TRANSIT")
        client.tracking_status.create(carrier="shippo", tracking_number=number)
        shippo_helpers.control(
            url, "POST", "/_emulator/tracks/usps/9400TEST", {"status": "TRANSIT"}
        )
        before = shippo_helpers.control(url, "GET", "/_emulator/state")
    finally:
        process.stop(sig=signal.SIGKILL)
    assert journal_path(state).exists()

    with shippo_helpers.running_emulator(tmp_path, auto_advance_seconds=60) as url:
        after = shippo_helpers.control(url, "GET", "/_emulator/state")

    assert before["jobs"] and before["objects"]["track"]
    assert after == before
