"""The Stripe adapter against the emulator: money moves once, and failures are sorted once."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from emulators.stripe import create_app
from providers.errors import (
    IdempotencyConflictError,
    PaymentDeclinedError,
    ProviderRejectedError,
    ProviderUnavailableError,
)
from providers.stripe_adapter import ChargeResult, StripeGateway, TransferResult
from tests.stripe_helpers import (
    API_KEY,
    control,
    paid_order,
    running_emulator,
    sdk_client,
    unique,
)

# The SDK hands httpx its form body as text, which httpx 0.28 deprecates; not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore:Use 'content=<...>':DeprecationWarning")


@pytest.fixture(scope="module")
def emulator_url() -> Iterator[str]:
    with running_emulator(create_app()) as url:
        yield url


async def charge_order(
    gateway: StripeGateway,
    order_id: str,
    *,
    amount: int = 2599,
    payment_method: str = "pm_card_visa",
    key: str | None = None,
) -> ChargeResult:
    return await paid_order(
        gateway,
        amount,
        payment_method=payment_method,
        key=key,
        order_id=order_id,
        description=f"Order {order_id}",
    )


async def test_a_charge_is_one_confirmed_payment_intent_in_the_orders_transfer_group(
    gateway: StripeGateway, emulator_url: str
) -> None:
    order_id = unique("ord")

    result = await charge_order(gateway, order_id)

    assert result.charge_id.startswith("ch_")
    assert result == ChargeResult(
        result.payment_intent_id, result.charge_id, 2599, "usd", "succeeded"
    )
    [intent] = await gateway.list_payment_intents_for(f"order-{order_id}")
    assert intent["id"] == result.payment_intent_id
    assert intent["status"] == "succeeded"
    assert intent["amount_received"] == 2599
    assert intent["latest_charge"] == result.charge_id
    assert intent["metadata"] == {"order_id": order_id}
    assert intent["description"] == f"Order {order_id}"
    async with sdk_client(emulator_url) as client:
        charge = await client.v1.charges.retrieve_async(result.charge_id)
    assert (charge.amount, charge.amount_refunded, charge.status, charge.paid) == (
        2599,
        0,
        "succeeded",
        True,
    )
    assert charge.payment_intent == result.payment_intent_id
    assert charge.transfer_group == f"order-{order_id}"


@pytest.mark.parametrize(
    ("payment_method", "decline_code"),
    [
        ("pm_card_visa_chargeDeclined", "generic_decline"),
        ("pm_card_visa_chargeDeclinedInsufficientFunds", "insufficient_funds"),
    ],
)
async def test_a_declined_card_is_final_and_its_retry_replays_the_same_decline(
    gateway: StripeGateway, payment_method: str, decline_code: str
) -> None:
    order_id = unique("ord")

    with pytest.raises(PaymentDeclinedError) as first:
        await charge_order(gateway, order_id, payment_method=payment_method)
    with pytest.raises(PaymentDeclinedError) as retry:
        await charge_order(gateway, order_id, payment_method=payment_method)

    assert (first.value.payment_intent_id or "").startswith("pi_")
    for declined in (first.value, retry.value):
        assert (declined.code, declined.decline_code, declined.retryable) == (
            "card_declined",
            decline_code,
            False,
        )
        assert declined.payment_intent_id == first.value.payment_intent_id
    [intent] = await gateway.list_payment_intents_for(f"order-{order_id}")
    assert intent["id"] == first.value.payment_intent_id
    assert intent["status"] == "requires_payment_method"
    assert intent["amount_received"] == 0
    assert intent["last_payment_error"]["decline_code"] == decline_code


async def test_a_retried_charge_with_the_same_key_creates_one_payment_intent(
    gateway: StripeGateway,
) -> None:
    order_id = unique("ord")

    first = await charge_order(gateway, order_id)
    retry = await charge_order(gateway, order_id)

    assert retry == first
    assert len(await gateway.list_payment_intents_for(f"order-{order_id}")) == 1


async def test_reusing_a_charge_key_for_another_amount_is_a_conflict_never_a_refusal(
    gateway: StripeGateway,
) -> None:
    order_id = unique("ord")
    first = await charge_order(gateway, order_id, amount=2599)

    with pytest.raises(IdempotencyConflictError) as conflict:
        await charge_order(gateway, order_id, amount=9999)

    # The key's first use may have moved money: never final, never a ProviderRejectedError.
    assert (conflict.value.code, conflict.value.http_status) == ("idempotency_key_reused", 400)
    assert conflict.value.retryable is True
    assert not isinstance(conflict.value, ProviderRejectedError)
    [intent] = await gateway.list_payment_intents_for(f"order-{order_id}")
    assert (intent["id"], intent["amount"]) == (first.payment_intent_id, 2599)


async def test_ten_concurrent_identical_charges_create_one_payment_intent(
    gateway: StripeGateway,
) -> None:
    order_id = unique("ord")

    results = await asyncio.gather(*(charge_order(gateway, order_id) for _ in range(10)))

    assert len(set(results)) == 1
    [intent] = await gateway.list_payment_intents_for(f"order-{order_id}")
    assert intent["id"] == results[0].payment_intent_id


async def test_a_vendor_payout_is_a_transfer_funded_by_the_order_charge(
    gateway: StripeGateway,
) -> None:
    order_id = unique("ord")
    vendor = await gateway.create_connected_account(
        email="brakes@example.com", idempotency_key=unique("vendor"), metadata={}
    )
    charge = await charge_order(gateway, order_id, amount=5000)

    payout = await gateway.transfer(
        amount_cents=4100,
        currency="usd",
        destination=vendor,
        transfer_group=f"order-{order_id}",
        source_transaction=charge.charge_id,
        metadata={"vendor_order_id": "vo-1"},
        idempotency_key=f"{order_id}:payout:vo-1",
    )

    assert payout == TransferResult(payout.transfer_id, 4100, vendor, f"order-{order_id}")
    [listed] = await gateway.list_transfers(f"order-{order_id}")
    assert listed["id"] == payout.transfer_id
    assert listed["source_transaction"] == charge.charge_id
    assert listed["metadata"] == {"vendor_order_id": "vo-1"}
    assert (listed["amount"], listed["currency"], listed["destination"]) == (4100, "usd", vendor)


async def test_a_payout_to_an_unknown_account_is_rejected_and_moves_nothing(
    gateway: StripeGateway,
) -> None:
    order_id = unique("ord")
    charge = await charge_order(gateway, order_id)

    with pytest.raises(ProviderRejectedError) as rejected:
        await gateway.transfer(
            amount_cents=1000,
            currency="usd",
            destination="acct_doesnotexist",
            transfer_group=f"order-{order_id}",
            source_transaction=charge.charge_id,
            metadata={},
            idempotency_key=f"{order_id}:payout",
        )

    # Missing or restricted, the caller sees one code: the vendor's account must be fixed.
    assert (rejected.value.code, rejected.value.param) == ("account_invalid", "destination")
    assert await gateway.list_transfers(f"order-{order_id}") == []


async def test_payouts_cannot_take_more_than_the_charge_has_left(gateway: StripeGateway) -> None:
    order_id = unique("ord")
    vendor = await gateway.create_connected_account(
        email="tyres@example.com", idempotency_key=unique("vendor"), metadata={}
    )
    charge = await charge_order(gateway, order_id, amount=1000)

    async def pay(amount: int, vendor_order: str) -> TransferResult:
        return await gateway.transfer(
            amount_cents=amount,
            currency="usd",
            destination=vendor,
            transfer_group=f"order-{order_id}",
            source_transaction=charge.charge_id,
            metadata={"vendor_order_id": vendor_order},
            idempotency_key=f"{order_id}:payout:{vendor_order}",
        )

    await pay(600, "vo-1")
    with pytest.raises(ProviderRejectedError) as rejected:
        await pay(401, "vo-2")

    assert (rejected.value.code, rejected.value.param) == ("balance_insufficient", "amount")
    assert [t["amount"] for t in await gateway.list_transfers(f"order-{order_id}")] == [600]


async def test_a_vendor_account_is_created_once_per_key(
    gateway: StripeGateway, emulator_url: str
) -> None:
    key = unique("vendor")

    first = await gateway.create_connected_account(
        email="lights@example.com", idempotency_key=key, metadata={"vendor_id": "v-9"}
    )
    again = await gateway.create_connected_account(
        email="lights@example.com", idempotency_key=key, metadata={"vendor_id": "v-9"}
    )

    assert again == first
    async with sdk_client(emulator_url) as client:
        account = await client.v1.accounts.retrieve_async(first)
    assert (account.type, account.country, account.email) == ("express", "US", "lights@example.com")
    stored = account.to_dict()
    assert stored["metadata"] == {"vendor_id": "v-9"}
    assert stored["capabilities"] == {"card_payments": "active", "transfers": "active"}


@pytest.mark.parametrize(
    ("mode", "code", "status"),
    [("error_500", "provider_error", 500), ("rate_limit_429", "rate_limited", 429)],
)
async def test_a_failing_provider_is_retryable_and_charges_nothing(
    gateway: StripeGateway,
    emulator_url: str,
    no_faults_after: None,
    mode: str,
    code: str,
    status: int,
) -> None:
    order_id = unique("ord")
    await control(emulator_url, "POST", "/_emulator/faults", {"rate": 1.0, "modes": [mode]})

    with pytest.raises(ProviderUnavailableError) as unavailable:
        await charge_order(gateway, order_id)

    assert (unavailable.value.code, unavailable.value.http_status) == (code, status)
    assert unavailable.value.retryable is True
    await control(emulator_url, "DELETE", "/_emulator/faults")
    assert await gateway.list_payment_intents_for(f"order-{order_id}") == []


async def lose_one_charge(emulator_url: str, order_id: str, mode: str) -> ProviderUnavailableError:
    """Charge once through a client that gives up after 0.5 s while the emulator stalls 2 s."""
    faults = {"rate": 1.0, "modes": [mode], "timeout_seconds": 2.0}
    await control(emulator_url, "POST", "/_emulator/faults", faults)
    impatient = StripeGateway.connect(API_KEY, emulator_url, timeout_seconds=0.5)
    try:
        with pytest.raises(ProviderUnavailableError) as lost:
            await charge_order(impatient, order_id)
    finally:
        await impatient.aclose()
        await control(emulator_url, "DELETE", "/_emulator/faults")
    return lost.value


async def test_a_charge_whose_answer_was_lost_is_recovered_by_retrying_with_the_same_key(
    gateway: StripeGateway, emulator_url: str, no_faults_after: None
) -> None:
    order_id = unique("ord")
    lost = await lose_one_charge(emulator_url, order_id, "timeout_after")
    [made_anyway] = await gateway.list_payment_intents_for(f"order-{order_id}")

    retry = await charge_order(gateway, order_id)

    assert (lost.code, lost.retryable) == ("connection_failed", True)
    assert retry.payment_intent_id == made_anyway["id"]
    assert retry.charge_id == made_anyway["latest_charge"]
    assert len(await gateway.list_payment_intents_for(f"order-{order_id}")) == 1


async def test_a_charge_that_timed_out_before_reaching_stripe_is_made_once_by_the_retry(
    gateway: StripeGateway, emulator_url: str, no_faults_after: None
) -> None:
    order_id = unique("ord")
    lost = await lose_one_charge(emulator_url, order_id, "timeout_before")
    assert await gateway.list_payment_intents_for(f"order-{order_id}") == []

    retry = await charge_order(gateway, order_id)

    assert (lost.code, lost.retryable) == ("connection_failed", True)
    [intent] = await gateway.list_payment_intents_for(f"order-{order_id}")
    assert (intent["id"], intent["status"]) == (retry.payment_intent_id, "succeeded")
