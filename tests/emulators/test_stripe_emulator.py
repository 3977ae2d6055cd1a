"""The Stripe emulator behaves like Stripe for everything the official SDK asks of it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
import stripe

from emulators.stripe import create_app
from providers.errors import ProviderRejectedError, sort_stripe_error
from tests.stripe_helpers import control, running_emulator, sdk_client, unique

# The SDK hands httpx its form body as text, which httpx 0.28 deprecates; not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore:Use 'content=<...>':DeprecationWarning")


@pytest.fixture(scope="module")
def emulator_url() -> Iterator[str]:
    with running_emulator(create_app()) as url:
        yield url


def intent_params(customer: str, **extra: Any) -> Any:
    return {"amount": 1500, "currency": "usd", "customer": customer, **extra}


async def intents_of(client: stripe.StripeClient, customer: str) -> list[str]:
    page = await client.v1.payment_intents.list_async(params={"customer": customer})
    return [intent.id for intent in page.data]


async def test_an_unconfirmed_payment_intent_waits_and_its_confirmation_creates_the_charge(
    client: stripe.StripeClient,
) -> None:
    params = intent_params(
        unique("cus"), payment_method="pm_card_visa", metadata={"order_id": "o-1", "0": "zero"}
    )
    created = await client.v1.payment_intents.create_async(params=params)
    assert (created.status, created.latest_charge, created.amount_received) == (
        "requires_confirmation",
        None,
        0,
    )

    confirmed = await client.v1.payment_intents.confirm_async(created.id)

    assert (confirmed.id, confirmed.status, confirmed.amount_received) == (
        created.id,
        "succeeded",
        1500,
    )
    assert confirmed.metadata.to_dict() == {"order_id": "o-1", "0": "zero"}
    charge = await client.v1.charges.retrieve_async(cast(str, confirmed.latest_charge))
    assert (charge.object, charge.amount, charge.payment_intent) == ("charge", 1500, created.id)
    assert (charge.status, charge.paid, charge.amount_refunded, charge.livemode) == (
        "succeeded",
        True,
        0,
        False,
    )


async def test_a_payment_intent_without_a_payment_method_requires_one(
    client: stripe.StripeClient,
) -> None:
    intent = await client.v1.payment_intents.create_async(params=intent_params(unique("cus")))

    assert (intent.status, intent.payment_method, intent.livemode) == (
        "requires_payment_method",
        None,
        False,
    )


async def test_a_decline_answers_402_with_the_payment_intent_waiting_for_another_card(
    client: stripe.StripeClient,
) -> None:
    customer = unique("cus")
    params = intent_params(
        customer, payment_method="pm_card_visa_chargeDeclinedInsufficientFunds", confirm=True
    )

    with pytest.raises(stripe.CardError) as declined:
        await client.v1.payment_intents.create_async(params=params)

    error = cast(dict[str, Any], declined.value.json_body)["error"]
    assert (declined.value.http_status, declined.value.code) == (402, "card_declined")
    assert (error["type"], error["decline_code"]) == ("card_error", "insufficient_funds")
    intent = error["payment_intent"]
    assert [intent["id"]] == await intents_of(client, customer)
    assert (intent["status"], intent["payment_method"]) == ("requires_payment_method", None)
    assert intent["last_payment_error"]["decline_code"] == "insufficient_funds"
    charge = await client.v1.charges.retrieve_async(error["charge"])
    assert (charge.status, charge.paid, charge.failure_code) == ("failed", False, "card_declined")


async def test_an_unknown_payment_method_is_refused_and_creates_nothing(
    client: stripe.StripeClient,
) -> None:
    customer = unique("cus")

    with pytest.raises(stripe.InvalidRequestError) as refused:
        await client.v1.payment_intents.create_async(
            params=intent_params(customer, payment_method="pm_card_bogus", confirm=True)
        )

    assert (refused.value.http_status, refused.value.code, refused.value.param) == (
        400,
        "resource_missing",
        "payment_method",
    )
    assert await intents_of(client, customer) == []


@pytest.mark.parametrize(
    ("params", "code", "param"),
    [
        (
            {"amount": 1500, "currency": "usd", "shipping_speed": "fast"},
            "parameter_unknown",
            "shipping_speed",
        ),
        ({"amount": 1500}, "parameter_missing", "currency"),
        ({"amount": "lots", "currency": "usd"}, "parameter_invalid_integer", "amount"),
        ({"amount": 20, "currency": "usd"}, "amount_too_small", "amount"),
    ],
)
async def test_a_malformed_payment_intent_is_refused_by_parameter_name(
    client: stripe.StripeClient, params: dict[str, Any], code: str, param: str
) -> None:
    customer = unique("cus")

    with pytest.raises(stripe.InvalidRequestError) as refused:
        await client.v1.payment_intents.create_async(
            params=cast(Any, {**params, "customer": customer})
        )

    assert (refused.value.http_status, refused.value.code, refused.value.param) == (
        400,
        code,
        param,
    )
    sorted_error = sort_stripe_error(refused.value)
    assert isinstance(sorted_error, ProviderRejectedError)
    assert (sorted_error.code, sorted_error.param, sorted_error.retryable) == (code, param, False)
    assert await intents_of(client, customer) == []


async def test_nested_parameters_are_checked_against_the_sdk_types(
    client: stripe.StripeClient,
) -> None:
    params = cast(Any, {"type": "express", "capabilities": {"teleport": {"requested": True}}})

    with pytest.raises(stripe.InvalidRequestError) as refused:
        await client.v1.accounts.create_async(params=params)

    assert (refused.value.code, refused.value.param) == (
        "parameter_unknown",
        "capabilities[teleport]",
    )


async def test_a_replay_returns_the_first_answer_marked_as_replayed(
    client: stripe.StripeClient,
) -> None:
    key, customer = unique("key"), unique("cus")
    params = intent_params(customer, payment_method="pm_card_visa", confirm=True)
    options: Any = {"idempotency_key": key}

    first = await client.v1.payment_intents.create_async(params=params, options=options)
    again = await client.v1.payment_intents.create_async(params=params, options=options)

    assert again.to_dict() == first.to_dict()
    assert cast(Any, first.last_response).headers.get("Idempotent-Replayed") is None
    assert cast(Any, again.last_response).headers["Idempotent-Replayed"] == "true"
    assert await intents_of(client, customer) == [first.id]


async def test_a_replayed_decline_is_the_same_decline(client: stripe.StripeClient) -> None:
    customer = unique("cus")
    params = intent_params(customer, payment_method="pm_card_visa_chargeDeclined", confirm=True)
    options: Any = {"idempotency_key": unique("key")}
    errors = []
    for _ in range(2):
        with pytest.raises(stripe.CardError) as declined:
            await client.v1.payment_intents.create_async(params=params, options=options)
        errors.append(declined.value)

    assert errors[1].json_body == errors[0].json_body
    replayed = cast(dict[str, str], errors[1].headers)["Idempotent-Replayed"]
    assert (errors[1].http_status, replayed) == (402, "true")
    assert len(await intents_of(client, customer)) == 1


async def test_an_idempotency_key_is_scoped_to_its_api_key_and_endpoint(
    emulator_url: str, client: stripe.StripeClient
) -> None:
    key, customer = unique("key"), unique("cus")
    options: Any = {"idempotency_key": key}

    ours = await client.v1.payment_intents.create_async(
        params=intent_params(customer), options=options
    )
    async with sdk_client(emulator_url, api_key="sk_test_other") as other_key:
        theirs = await other_key.v1.payment_intents.create_async(
            params=intent_params(customer, amount=7000), options=options
        )
    account = await client.v1.accounts.create_async(params={"type": "express"}, options=options)
    with pytest.raises(stripe.IdempotencyError) as reused:
        await client.v1.payment_intents.create_async(
            params=intent_params(customer, amount=7000), options=options
        )

    assert (theirs.amount, account.object) == (7000, "account")
    assert cast(dict[str, Any], reused.value.json_body)["error"]["type"] == "idempotency_error"
    assert await intents_of(client, customer) == [theirs.id, ours.id]


async def test_lists_run_newest_first_and_page_from_a_cursor(client: stripe.StripeClient) -> None:
    ids = [(await client.v1.accounts.create_async(params={"type": "express"})).id for _ in range(3)]

    first = await client.v1.accounts.list_async(params={"limit": 2})
    after = await client.v1.accounts.list_async(params={"limit": 1, "starting_after": ids[1]})
    before = await client.v1.accounts.list_async(params={"limit": 5, "ending_before": ids[1]})

    assert ([a.id for a in first.data], first.has_more, first.url) == (
        ids[:0:-1],
        True,
        "/v1/accounts",
    )
    assert [a.id for a in after.data] == [ids[0]]
    assert ([a.id for a in before.data], before.has_more) == ([ids[2]], False)


async def test_transfers_are_listed_by_transfer_group_and_by_destination(
    client: stripe.StripeClient,
) -> None:
    group = unique("order")
    vendors = [(await client.v1.accounts.create_async(params={"type": "express"})).id for _ in "ab"]
    intent = await client.v1.payment_intents.create_async(
        params=intent_params(
            unique("cus"), payment_method="pm_card_visa", confirm=True, transfer_group=group
        )
    )
    charge = cast(str, intent.latest_charge)
    made = [
        await client.v1.transfers.create_async(
            params={
                "amount": 500,
                "currency": "usd",
                "destination": vendor,
                "transfer_group": group,
                "source_transaction": charge,
            }
        )
        for vendor in vendors
    ]

    by_group = await client.v1.transfers.list_async(params={"transfer_group": group})
    by_vendor = await client.v1.transfers.list_async(params={"destination": vendors[0]})
    too_much = client.v1.transfers.create_async(
        params={
            "amount": 501,
            "currency": "usd",
            "destination": vendors[0],
            "source_transaction": charge,
        }
    )
    with pytest.raises(stripe.InvalidRequestError) as refused:
        await too_much

    assert [t.id for t in by_group.data] == [made[1].id, made[0].id]
    assert [t.id for t in by_vendor.data] == [made[0].id]
    assert (made[0].source_transaction, made[0].transfer_group) == (charge, group)
    assert (refused.value.code, refused.value.param) == ("balance_insufficient", "amount")


@pytest.mark.parametrize("kind", ["payment_intents", "charges", "transfers", "accounts"])
async def test_a_missing_object_is_404_resource_missing(
    client: stripe.StripeClient, kind: str
) -> None:
    service = getattr(client.v1, kind)

    with pytest.raises(stripe.InvalidRequestError) as missing:
        await service.retrieve_async("xx_doesnotexist")

    assert (missing.value.http_status, missing.value.code) == (404, "resource_missing")


async def test_a_request_without_an_api_key_is_refused(emulator_url: str) -> None:
    async with httpx.AsyncClient(base_url=emulator_url) as http:
        answer = await http.get("/v1/accounts")

    assert answer.status_code == 401
    assert answer.json()["error"]["type"] == "invalid_request_error"


async def test_a_seeded_fault_rate_fails_the_same_requests_every_time(
    emulator_url: str, client: stripe.StripeClient
) -> None:
    account = await client.v1.accounts.create_async(params={"type": "express"})

    async def failures() -> list[bool]:
        await control(
            emulator_url,
            "POST",
            "/_emulator/faults",
            {"rate": 0.5, "modes": ["error_500"], "seed": 7},
        )
        outcomes = []
        for _ in range(20):
            try:
                await client.v1.accounts.retrieve_async(account.id)
                outcomes.append(False)
            except stripe.APIError as exc:
                assert exc.http_status == 500
                outcomes.append(True)
        await control(emulator_url, "DELETE", "/_emulator/faults")
        return outcomes

    first, second = await failures(), await failures()

    assert first == second
    assert 0 < sum(first) < 20


async def test_the_state_file_keeps_objects_and_idempotent_answers_across_a_restart(
    tmp_path: Path,
) -> None:
    state = tmp_path / "stripe.json"
    params = intent_params("cus_restart", payment_method="pm_card_visa", confirm=True)
    options: Any = {"idempotency_key": "restart-charge"}
    with running_emulator(create_app(state_path=state)) as url:
        async with sdk_client(url) as client:
            before = await client.v1.payment_intents.create_async(params=params, options=options)

    with running_emulator(create_app(state_path=state)) as url:
        async with sdk_client(url) as client:
            kept = await client.v1.payment_intents.retrieve_async(before.id)
            replayed = await client.v1.payment_intents.create_async(params=params, options=options)

    assert kept.to_dict() == before.to_dict()
    assert cast(Any, replayed.last_response).headers["Idempotent-Replayed"] == "true"
    assert replayed.id == before.id
    assert list(json.loads(state.read_text())["objects"]["payment_intent"]) == [before.id]


async def test_reset_forgets_every_object() -> None:
    with running_emulator(create_app()) as url:
        async with sdk_client(url) as client:
            await client.v1.accounts.create_async(params={"type": "express"})

            await control(url, "POST", "/_emulator/reset")

            assert (await client.v1.accounts.list_async()).data == []
        assert await control(url, "GET", "/_emulator/state") == {
            "objects": {},
            "idempotency": {},
            "deliveries": {},
            "account_state": {},
        }
        assert await control(url, "GET", "/healthz") == {"status": "ok"}
