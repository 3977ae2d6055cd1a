"""The emulators find a charge's refunds, a transfer's reversals, a charge's disputes and
transfers, a parcel's webhooks and a reference's labels through indexes, not by reading every
object they hold; the indexes come back whole after a restart, by journal or by state file."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from emulators.journal import journal_path
from emulators.shippo.state import Store as ShippoStore
from emulators.shippo.state import new_id, page_of
from emulators.shippo.webhooks import WebhookDispatcher, WebhookSettings
from emulators.stripe import connect, create_app, disputes, payments, refunds, reversals
from emulators.stripe import params as p
from emulators.stripe.errors import ControlError, StripeAPIError
from emulators.stripe.state import Store, StripeObject
from tests.stripe_helpers import running_emulator, sdk_client

pytestmark = pytest.mark.filterwarnings("ignore:Use 'content=<...>':DeprecationWarning")


def paid(store: Store, amount: int = 5000) -> StripeObject:
    """A paid PaymentIntent, made by the emulator's own handler without HTTP."""
    form = f"amount={amount}&currency=usd&confirm=true&payment_method=pm_card_visa"
    return payments.create_payment_intent(store, p.decode(form), ())


def refund(store: Store, intent: StripeObject, amount: int | None = None) -> StripeObject:
    form = f"payment_intent={intent['id']}" + ("" if amount is None else f"&amount={amount}")
    return refunds.create_refund(store, p.decode(form), ())


def transfer(store: Store, account: str, charge: str, amount: int) -> StripeObject:
    form = f"amount={amount}&currency=usd&destination={account}&source_transaction={charge}"
    return connect.create_transfer(store, p.decode(form), ())


def reverse(store: Store, transfer_id: str, amount: int) -> StripeObject:
    return reversals.create_reversal(store, p.decode(f"amount={amount}"), (transfer_id,))


def account(store: Store) -> str:
    return str(connect.create_account(store, p.decode("type=express"), ())["id"])


def listed(handler: Any, store: Store, form: str, *ids: str) -> list[str]:
    return [obj["id"] for obj in handler(store, p.decode(form), ids)["data"]]


def refused(call: Any) -> str:
    with pytest.raises(StripeAPIError) as caught:
        call()
    return str(caught.value.body()["error"]["code"])


@pytest.mark.parametrize("kept_by", ["journal", "state file"])
def test_a_charges_refunds_transfers_and_disputes_are_found_the_same_after_a_restart(
    tmp_path: Path, kept_by: str
) -> None:
    state = tmp_path / "before" / "stripe.json"
    state.parent.mkdir()
    store = Store(state)
    vendor = account(store)
    ours = paid(store, 10_000)
    charge = ours["latest_charge"]
    mine = []
    for number in range(30):
        other = paid(store)
        refund(store, other, 100)
        transfer(store, vendor, other["latest_charge"], 1000)
        if number % 10 == 0:
            mine.append(refund(store, ours, 100)["id"])
    payout = transfer(store, vendor, charge, 4000)
    reverse(store, payout["id"], 500)
    dispute = disputes.open_dispute(store, {"charge": paid(store)["latest_charge"]})
    store.save()
    if kept_by == "journal":
        # What a crash leaves: the state file as last folded, and the journal beside it.
        assert journal_path(state).exists()
        copy = tmp_path / "after" / "stripe.json"
        copy.parent.mkdir()
        for kept in (state, journal_path(state)):
            if kept.exists():
                shutil.copy(kept, copy.parent / kept.name)
        store.close()
    else:
        store.close()
        assert not journal_path(state).exists()
        copy = state

    restarted = Store(copy)

    newest_first = mine[::-1]
    assert listed(refunds.list_refunds, restarted, f"payment_intent={ours['id']}") == newest_first
    assert listed(refunds.list_refunds, restarted, f"charge={charge}&limit=2") == newest_first[:2]
    assert [t["id"] for t in restarted.newest_with("transfer", "source_transaction", charge)] == [
        payout["id"]
    ]
    reloaded = restarted.get("charge", charge)
    assert reloaded is not None
    # 10,000 captured, 300 refunded, 4,000 paid out less 500 taken back.
    assert connect.transferable(restarted, reloaded) == 6200
    assert len(listed(reversals.list_reversals, restarted, "", payout["id"])) == 1
    with pytest.raises(ControlError, match="already disputed"):
        disputes.open_dispute(restarted, {"charge": dispute["charge"]})
    # Made after the restart, it is listed before everything made before it.
    fresh = refund(restarted, ours, 100)["id"]
    assert listed(refunds.list_refunds, restarted, f"payment_intent={ours['id']}") == [
        fresh,
        *newest_first,
    ]
    restarted.close()


async def test_one_payments_refunds_are_listed_exactly_its_own_newest_first_among_many(
    tmp_path: Path,
) -> None:
    state = tmp_path / "stripe.json"
    store = Store(state)
    ours = paid(store)
    mine = []
    for number in range(400):
        refund(store, paid(store), 100 + number % 7)
        if number % 80 == 0:
            mine.append(refund(store, ours, 100 + number)["id"])
    store.close()
    newest_first = mine[::-1]

    with running_emulator(create_app(state_path=state)) as url:
        async with sdk_client(url) as client:
            whole = await client.v1.refunds.list_async(
                params={"payment_intent": ours["id"], "limit": 100}
            )
            paged = [
                r.id
                async for r in (
                    await client.v1.refunds.list_async(
                        params={"payment_intent": ours["id"], "limit": 2}
                    )
                ).auto_paging_iter()
            ]
            before_oldest = await client.v1.refunds.list_async(
                params={"payment_intent": ours["id"], "limit": 2, "ending_before": mine[0]}
            )
            by_charge = await client.v1.refunds.list_async(
                params={"charge": ours["latest_charge"], "starting_after": mine[3]}
            )
            charge = await client.v1.charges.retrieve_async(
                ours["latest_charge"], params={"expand": ["refunds"]}
            )

    assert ([r.id for r in whole.data], whole.has_more) == (newest_first, False)
    assert paged == newest_first
    # The two made just after the oldest, newest first; more are newer still.
    assert ([r.id for r in before_oldest.data], before_oldest.has_more) == (
        [mine[2], mine[1]],
        True,
    )
    assert [r.id for r in by_charge.data] == mine[2::-1]
    assert charge.refunds is not None
    assert [r.id for r in charge.refunds.data] == newest_first
    assert charge.refunds["total_count"] == len(mine)


def page_by_reading_everything(
    store: Store, kind: str, wanted: dict[str, str], params: dict[str, str]
) -> tuple[list[str], bool]:
    """A list page as the emulator made it before its indexes: every object read."""
    everything = list(reversed(store.objects.get(kind, {}).values()))
    low, high = int(params.get("created[gte]", 0)), int(params.get("created[lte]", 10**12))
    items = [
        obj
        for obj in everything
        if all(obj[field] == value for field, value in wanted.items())
        and low <= obj["created"] <= high
    ]
    place = {obj["id"]: rank for rank, obj in enumerate(everything)}
    limit = int(params.get("limit", 10))
    if "starting_after" in params:
        items = [obj for obj in items if place[obj["id"]] > place[params["starting_after"]]]
        page = items[:limit]
    elif "ending_before" in params:
        items = [obj for obj in items if place[obj["id"]] < place[params["ending_before"]]]
        page = items[-limit:]
    else:
        page = items[:limit]
    return [obj["id"] for obj in page], len(items) > len(page)


def test_every_list_page_is_the_one_reading_every_object_would_give() -> None:
    store = Store()
    intents = []
    for number in range(40):
        form = "amount=5000&currency=usd&confirm=true&payment_method=pm_card_visa"
        form += f"&customer=cus_{number % 3}"
        intents.append(payments.create_payment_intent(store, p.decode(form), ()))
        for _ in range(number % 3):
            refund(store, intents[number % 7], 100)
    for rank, made in enumerate(store.objects["refund"].values()):
        made["created"] = 1000 + rank // 2  # created ties, as within one second
    # Cursors of every sort: the charge's own refunds, others', the oldest and the newest.
    cursors = [r["id"] for r in list(store.objects["refund"].values())[::5]]
    cursors.append(next(reversed(store.objects["refund"].values()))["id"])
    ranges = [{}, {"created[gte]": "1005", "created[lte]": "1012"}]
    filters: list[dict[str, str]] = [
        {},
        {"payment_intent": intents[1]["id"]},
        {"charge": intents[2]["latest_charge"]},
        {"payment_intent": intents[1]["id"], "charge": intents[2]["latest_charge"]},
    ]
    for wanted in filters:
        for limit in ("1", "3", "100"):
            shapes = [{**r, "starting_after": c} for r in ranges for c in cursors]
            shapes += [{**r, "ending_before": c} for r in ranges for c in cursors]
            for shape in [*ranges, *shapes]:
                params = {**wanted, **shape, "limit": limit}
                page = refunds.list_refunds(store, p.decode(urlencode(params)), ())
                assert ([r["id"] for r in page["data"]], page["has_more"]) == (
                    page_by_reading_everything(store, "refund", wanted, params)
                ), params


def test_a_payouts_transferable_amount_is_right_among_thousands_of_other_transfers() -> None:
    store = Store()
    vendor = account(store)
    for number in range(2000):
        other = transfer(store, vendor, paid(store)["latest_charge"], 2500)
        if number % 10 == 0:
            reverse(store, other["id"], 1000)
    ours = paid(store, 10_000)
    charge = store.get("charge", ours["latest_charge"])
    assert charge is not None
    first = transfer(store, vendor, charge["id"], 3000)
    transfer(store, vendor, charge["id"], 4000)
    reverse(store, first["id"], 1000)
    refund(store, ours, 1000)

    # 10,000 less the refund (1,000) and what still sits with the vendor (2,000 + 4,000).
    assert connect.transferable(store, charge) == 3000
    assert refused(lambda: transfer(store, vendor, charge["id"], 3001)) == "balance_insufficient"
    transfer(store, vendor, charge["id"], 3000)
    assert connect.transferable(store, charge) == 0
    shown = store.get("transfer", first["id"])
    assert shown is not None
    assert shown["reversals"]["total_count"] == 1


def test_a_refund_is_refused_for_its_own_charges_open_dispute_not_for_others() -> None:
    store = Store()
    for _ in range(300):
        disputes.open_dispute(store, {"payment_intent": paid(store)["id"]})
    ours = paid(store)

    assert refund(store, ours, 500)["status"] == "succeeded"
    dispute = disputes.open_dispute(store, {"payment_intent": ours["id"], "amount": 2000})
    assert refused(lambda: refund(store, ours, 100)) == "charge_disputed"
    disputes.close_dispute(store, dispute["id"], {"status": "lost"})
    # 5,000 less the 500 refunded and the 2,000 the lost dispute took back.
    assert refund(store, ours)["amount"] == 2500
    assert listed(disputes.list_disputes, store, f"payment_intent={ours['id']}") == [dispute["id"]]


def test_labels_by_reference_and_a_parcels_webhooks_are_found_the_same_after_a_restart(
    tmp_path: Path,
) -> None:
    state = tmp_path / "shippo.json"
    store = ShippoStore(state)
    webhooks = WebhookDispatcher(store, WebhookSettings(url="http://127.0.0.1:9/hook"))
    made = []
    for number in range(300):
        label = {"object_id": new_id(), "metadata": f"ref-{number % 50}", "status": "SUCCESS"}
        made.append(store.add("transaction", label["object_id"], label)["object_id"])
        update = {"carrier": "shippo", "tracking_number": f"SHIPPO_TRANSIT_{number % 30}"}
        webhooks.enqueue({"event": "track_updated", "data": update}, subject=str(number))
    store.save()
    copy = tmp_path / "copy" / "shippo.json"
    copy.parent.mkdir()
    for kept in (state, journal_path(state)):
        if kept.exists():
            shutil.copy(kept, copy.parent / kept.name)
    store.close()

    restarted = ShippoStore(copy)
    again = WebhookDispatcher(restarted, WebhookSettings(url="http://127.0.0.1:9/hook"))

    own = [t["object_id"] for t in restarted.newest("transaction", {"metadata": "ref-7"})]
    assert own == made[7::50][::-1]
    second = page_of(restarted.newest("transaction"), {"page": "2", "results": "100"}, "/t")
    assert [t["object_id"] for t in second["results"]] == made[::-1][100:200]
    assert second["next"] is not None
    parcel = {"carrier": "shippo", "tracking_number": "SHIPPO_TRANSIT_4"}
    assert [d["subject"] for d in again.deliveries(parcel)] == [str(n) for n in range(4, 300, 30)]
    restarted.close()
