"""Refunds, transfer reversals and vendor balances: money flows back exactly once, or not at all."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import stripe

from emulators.stripe import create_app
from providers.errors import (
    PaymentDeclinedError,
    ProviderRejectedError,
    ProviderUnavailableError,
)
from providers.stripe_adapter import (
    ChargeResult,
    RefundResult,
    ReversalResult,
    StripeGateway,
    TransferResult,
)
from tests.stripe_helpers import (
    API_KEY,
    control,
    paid_order,
    running_emulator,
    unique,
)


@pytest.fixture(scope="module")
def emulator_url() -> Iterator[str]:
    with running_emulator(create_app()) as url:
        yield url


async def refund(
    gateway: StripeGateway, charge: ChargeResult, amount: int, key: str | None = None
) -> RefundResult:
    return await gateway.refund(
        payment_intent_id=charge.payment_intent_id,
        amount_cents=amount,
        metadata={"vendor_order_id": "vo-1"},
        idempotency_key=key or unique("refund"),
        reason="requested_by_customer",
    )


async def vendor_account(gateway: StripeGateway) -> str:
    return await gateway.create_connected_account(
        email="vendor@example.com", idempotency_key=unique("vendor"), metadata={}
    )


async def payout(
    gateway: StripeGateway, charge: ChargeResult, vendor: str, amount: int, key: str | None = None
) -> TransferResult:
    return await gateway.transfer(
        amount_cents=amount,
        currency="usd",
        destination=vendor,
        transfer_group=f"order-{charge.payment_intent_id}",
        source_transaction=charge.charge_id,
        metadata={"vendor_order_id": "vo-1"},
        idempotency_key=key or unique("payout"),
    )


async def reverse(
    gateway: StripeGateway, transfer: TransferResult, amount: int, key: str | None = None
) -> ReversalResult:
    return await gateway.reverse_transfer(
        transfer_id=transfer.transfer_id,
        amount_cents=amount,
        metadata={"refund_id": "re_x"},
        idempotency_key=key or unique("reversal"),
    )


async def balance_of(emulator_url: str, account: str) -> int:
    answer = await control(emulator_url, "GET", f"/_emulator/accounts/{account}/balance")
    return int(answer["available"])


async def test_a_partial_refund_leaves_the_rest_and_refunding_the_rest_refunds_the_charge(
    gateway: StripeGateway, client: stripe.StripeClient
) -> None:
    charge = await paid_order(gateway, 5000)

    first = await refund(gateway, charge, 1500)
    after_first = await client.v1.charges.retrieve_async(charge.charge_id)
    rest = await gateway.refund(
        payment_intent_id=charge.payment_intent_id,
        amount_cents=3500,
        metadata={},
        idempotency_key=unique("refund"),
    )
    after_rest = await client.v1.charges.retrieve_async(charge.charge_id)

    assert first == RefundResult(first.refund_id, 1500, charge.payment_intent_id, "succeeded")
    assert first.refund_id.startswith("re_")
    assert (after_first.amount_refunded, after_first.refunded) == (1500, False)
    assert (rest.amount_cents, after_rest.amount_refunded, after_rest.refunded) == (
        3500,
        5000,
        True,
    )
    # Since API version 2022-11-15 a Charge lists its refunds only when asked to expand them.
    assert "refunds" not in after_rest.to_dict()
    expanded = await client.v1.charges.retrieve_async(
        charge.charge_id, params={"expand": ["refunds"]}
    )
    shown = expanded.to_dict()["refunds"]
    assert [r["id"] for r in shown["data"]] == [rest.refund_id, first.refund_id]
    assert shown["total_count"] == 2
    listed = await gateway.list_refunds(charge.payment_intent_id)
    assert [r["id"] for r in listed] == [rest.refund_id, first.refund_id]
    stored = await client.v1.refunds.retrieve_async(first.refund_id)
    assert stored.to_dict() == listed[1]
    assert (stored.object, stored.charge, stored.payment_intent, stored.currency) == (
        "refund",
        charge.charge_id,
        charge.payment_intent_id,
        "usd",
    )
    assert (stored.reason, stored.metadata.to_dict()) == (
        "requested_by_customer",
        {"vendor_order_id": "vo-1"},
    )
    intent = await gateway.retrieve_payment_intent(charge.payment_intent_id)
    assert (intent["id"], intent["latest_charge"]) == (charge.payment_intent_id, charge.charge_id)


async def test_a_refund_without_an_amount_refunds_whatever_is_left(
    client: stripe.StripeClient, gateway: StripeGateway
) -> None:
    charge = await paid_order(gateway, 5000)
    await refund(gateway, charge, 1200)

    rest = await client.v1.refunds.create_async(params={"charge": charge.charge_id})

    assert (rest.amount, rest.payment_intent) == (3800, charge.payment_intent_id)
    by_charge = await client.v1.refunds.list_async(params={"charge": charge.charge_id})
    assert [r.amount for r in by_charge.data] == [3800, 1200]


async def test_a_refund_beyond_what_is_left_is_refused_and_changes_nothing(
    gateway: StripeGateway, client: stripe.StripeClient
) -> None:
    charge = await paid_order(gateway, 5000)
    made = await refund(gateway, charge, 4000)

    with pytest.raises(ProviderRejectedError) as too_large:
        await refund(gateway, charge, 1001)
    await refund(gateway, charge, 1000)
    with pytest.raises(ProviderRejectedError) as nothing_left:
        await refund(gateway, charge, 50)

    assert (too_large.value.code, too_large.value.param) == ("amount_too_large", "amount")
    assert (nothing_left.value.code, nothing_left.value.http_status) == (
        "charge_already_refunded",
        400,
    )
    assert too_large.value.retryable is nothing_left.value.retryable is False
    after = await client.v1.charges.retrieve_async(charge.charge_id)
    assert (after.amount_refunded, after.refunded) == (5000, True)
    listed = await gateway.list_refunds(charge.payment_intent_id)
    assert [r["amount"] for r in listed] == [1000, 4000]
    assert listed[1]["id"] == made.refund_id


@pytest.mark.parametrize(
    ("params", "code", "param"),
    [
        ({}, "parameter_missing", None),
        ({"payment_intent": "pi_doesnotexist"}, "resource_missing", "payment_intent"),
        ({"payment_intent": "{declined}"}, "charge_not_refundable", "payment_intent"),
        ({"payment_intent": "{paid}", "amount": 0}, "parameter_invalid_integer", "amount"),
        ({"payment_intent": "{paid}", "reason": "changed_mind"}, None, "reason"),
    ],
)
async def test_a_refund_of_nothing_refundable_is_refused_and_refunds_nothing(
    gateway: StripeGateway,
    client: stripe.StripeClient,
    params: dict[str, Any],
    code: str | None,
    param: str | None,
) -> None:
    paid = await paid_order(gateway)
    with pytest.raises(PaymentDeclinedError) as declined:
        await gateway.charge(
            amount_cents=5000,
            currency="usd",
            payment_method="pm_card_visa_chargeDeclined",
            transfer_group=unique("order"),
            metadata={},
            idempotency_key=unique("charge"),
        )
    names = {"{paid}": paid.payment_intent_id, "{declined}": declined.value.payment_intent_id}
    sent = {key: names.get(value, value) for key, value in params.items()}

    with pytest.raises(stripe.InvalidRequestError) as refused:
        await client.v1.refunds.create_async(params=sent)

    assert (refused.value.http_status, refused.value.code, refused.value.param) == (
        400,
        code,
        param,
    )
    assert await gateway.list_refunds(paid.payment_intent_id) == []
    assert (await client.v1.charges.retrieve_async(paid.charge_id)).amount_refunded == 0


async def test_a_refund_retried_with_its_key_is_made_and_announced_once(
    gateway: StripeGateway, client: stripe.StripeClient
) -> None:
    charge = await paid_order(gateway, 5000)
    key = f"{charge.payment_intent_id}:refund:1"

    first = await refund(gateway, charge, 700, key=key)
    retry = await refund(gateway, charge, 700, key=key)

    assert retry == first
    assert [r["id"] for r in await gateway.list_refunds(charge.payment_intent_id)] == [
        first.refund_id
    ]
    events = await client.v1.events.list_async(params={"type": "refund.created", "limit": 100})
    assert [e.data.object["id"] for e in events.data].count(first.refund_id) == 1


@pytest.mark.parametrize("mode", ["error_500", "rate_limit_429", "timeout_before", "timeout_after"])
async def test_a_refund_failed_by_the_provider_is_made_once_by_retrying_with_its_key(
    gateway: StripeGateway, emulator_url: str, no_faults_after: None, mode: str
) -> None:
    charge = await paid_order(gateway, 5000)
    key = f"{charge.payment_intent_id}:refund:1"
    faults = {"rate": 1.0, "modes": [mode], "timeout_seconds": 2.0}
    await control(emulator_url, "POST", "/_emulator/faults", faults)
    impatient = StripeGateway.connect(API_KEY, emulator_url, timeout_seconds=0.5)
    try:
        with pytest.raises(ProviderUnavailableError) as failed:
            await refund(impatient, charge, 2000, key=key)
    finally:
        await impatient.aclose()
        await control(emulator_url, "DELETE", "/_emulator/faults")

    retry = await refund(gateway, charge, 2000, key=key)

    assert failed.value.retryable is True
    [made] = await gateway.list_refunds(charge.payment_intent_id)
    assert (made["id"], made["amount"]) == (retry.refund_id, 2000)


async def test_faults_hit_reversals_but_never_the_emulator_controls(
    gateway: StripeGateway, emulator_url: str, no_faults_after: None
) -> None:
    vendor = await vendor_account(gateway)
    transfer = await payout(gateway, await paid_order(gateway), vendor, 3000)
    key = f"{transfer.transfer_id}:reversal:1"
    await control(emulator_url, "POST", "/_emulator/faults", {"rate": 1.0, "modes": ["error_500"]})

    with pytest.raises(ProviderUnavailableError) as failed:
        await reverse(gateway, transfer, 1000, key=key)
    balance_during_faults = await balance_of(emulator_url, vendor)
    await control(emulator_url, "DELETE", "/_emulator/faults")
    retry = await reverse(gateway, transfer, 1000, key=key)

    assert (failed.value.code, failed.value.http_status) == ("provider_error", 500)
    assert balance_during_faults == 3000
    [made] = await gateway.list_reversals(transfer.transfer_id)
    assert (made["id"], made["amount"]) == (retry.reversal_id, 1000)
    assert await balance_of(emulator_url, vendor) == 2000


async def test_a_payout_reversed_in_two_parts_ends_fully_reversed(
    gateway: StripeGateway, client: stripe.StripeClient, emulator_url: str
) -> None:
    vendor = await vendor_account(gateway)
    transfer = await payout(gateway, await paid_order(gateway), vendor, 4000)
    credited = await balance_of(emulator_url, vendor)

    first = await reverse(gateway, transfer, 1500)
    partly = await client.v1.transfers.retrieve_async(transfer.transfer_id)
    second = await reverse(gateway, transfer, 2500)
    fully = await client.v1.transfers.retrieve_async(transfer.transfer_id)

    assert credited == 4000
    assert first == ReversalResult(first.reversal_id, transfer.transfer_id, 1500)
    assert first.reversal_id.startswith("trr_")
    assert (partly.amount_reversed, partly.reversed) == (1500, False)
    assert (fully.amount_reversed, fully.reversed) == (4000, True)
    assert [r["id"] for r in fully.to_dict()["reversals"]["data"]] == [
        second.reversal_id,
        first.reversal_id,
    ]
    listed = await gateway.list_reversals(transfer.transfer_id)
    assert [r["amount"] for r in listed] == [2500, 1500]
    one = await client.v1.transfers.reversals.retrieve_async(
        transfer.transfer_id, first.reversal_id
    )
    assert (one.object, one.transfer, one.currency) == (
        "transfer_reversal",
        transfer.transfer_id,
        "usd",
    )
    assert one.to_dict()["metadata"] == {"refund_id": "re_x"}
    assert await balance_of(emulator_url, vendor) == 0


async def test_a_reversal_beyond_what_is_left_of_the_payout_is_refused(
    gateway: StripeGateway,
) -> None:
    vendor = await vendor_account(gateway)
    transfer = await payout(gateway, await paid_order(gateway), vendor, 2000)
    await reverse(gateway, transfer, 1500)

    with pytest.raises(ProviderRejectedError) as refused:
        await reverse(gateway, transfer, 501)

    assert (refused.value.code, refused.value.http_status) == ("amount_too_large", 400)
    assert [r["amount"] for r in await gateway.list_reversals(transfer.transfer_id)] == [1500]


async def test_a_reversal_the_vendor_balance_cannot_cover_is_refused_and_changes_nothing(
    gateway: StripeGateway, client: stripe.StripeClient, emulator_url: str
) -> None:
    vendor = await vendor_account(gateway)
    transfer = await payout(gateway, await paid_order(gateway), vendor, 4000)
    # The vendor has paid most of it out to its bank already.
    await control(emulator_url, "POST", f"/_emulator/accounts/{vendor}/balance", {"available": 500})

    with pytest.raises(ProviderRejectedError) as refused:
        await reverse(gateway, transfer, 1000)

    assert (refused.value.code, refused.value.retryable) == ("balance_insufficient", False)
    after = await client.v1.transfers.retrieve_async(transfer.transfer_id)
    assert (after.amount_reversed, after.reversed) == (0, False)
    assert await gateway.list_reversals(transfer.transfer_id) == []
    assert await balance_of(emulator_url, vendor) == 500
    reversed_events = await client.v1.events.list_async(
        params={"type": "transfer.reversed", "limit": 100}
    )
    assert transfer.transfer_id not in [e.data.object["id"] for e in reversed_events.data]
    assert (await reverse(gateway, transfer, 500)).amount_cents == 500


async def test_a_restricted_account_refuses_payouts_until_the_restriction_is_lifted(
    gateway: StripeGateway, client: stripe.StripeClient, emulator_url: str
) -> None:
    vendor = await vendor_account(gateway)
    charge = await paid_order(gateway, 5000)
    restrict = f"/_emulator/accounts/{vendor}/restrict"
    await control(emulator_url, "POST", restrict, {"restricted": True})

    with pytest.raises(ProviderRejectedError) as refused:
        await payout(gateway, charge, vendor, 4000, key=f"{vendor}:payout:1")
    restricted = await client.v1.accounts.retrieve_async(vendor)
    # Like Stripe, the refusal is the answer kept for its key: a retry needs a new key.
    with pytest.raises(ProviderRejectedError) as replayed:
        await payout(gateway, charge, vendor, 4000, key=f"{vendor}:payout:1")
    lifted = await control(emulator_url, "POST", restrict, {"restricted": False})
    paid = await payout(gateway, charge, vendor, 4000, key=f"{vendor}:payout:2")

    assert (refused.value.code, refused.value.param, refused.value.retryable) == (
        "account_invalid",
        "destination",
        False,
    )
    assert replayed.value.code == "account_invalid"
    assert (restricted.payouts_enabled, restricted.capabilities.to_dict()) == (
        False,
        {"card_payments": "active", "transfers": "inactive"},
    )
    assert lifted == {"account": vendor, "available": 0, "restricted": False}
    listed = await client.v1.transfers.list_async(params={"destination": vendor})
    assert [t.id for t in listed.data] == [paid.transfer_id]
    assert await balance_of(emulator_url, vendor) == 4000


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("/_emulator/accounts/acct_missing/balance", {"available": 100}, 404),
        ("/_emulator/accounts/{vendor}/balance", {"available": -1}, 400),
        ("/_emulator/accounts/{vendor}/balance", {"available": "lots"}, 400),
        ("/_emulator/accounts/{vendor}/restrict", {"restricted": "yes"}, 400),
    ],
)
async def test_a_malformed_balance_control_is_refused_and_changes_nothing(
    gateway: StripeGateway, emulator_url: str, path: str, body: dict[str, Any], status: int
) -> None:
    vendor = await vendor_account(gateway)

    async with httpx.AsyncClient(base_url=emulator_url) as http:
        answer = await http.post(path.format(vendor=vendor), json=body)

    assert answer.status_code == status
    state = await control(emulator_url, "GET", f"/_emulator/accounts/{vendor}/balance")
    assert state == {"account": vendor, "available": 0, "restricted": False}
