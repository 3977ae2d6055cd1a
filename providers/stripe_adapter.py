"""Stripe Connect payments on the official SDK: one charge per order, one transfer per payout.

Every POST carries the caller's deterministic idempotency key, so an activity that Temporal
retries after a timeout gets Stripe's first answer back instead of moving money twice.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import stripe
from stripe.params import (
    PaymentIntentCreateParams,
    PaymentIntentListParams,
    TransferListParams,
)

from providers.errors import ProviderRejectedError, sort_stripe_error

_PAGE_SIZE = 100


@dataclass(frozen=True)
class ChargeResult:
    payment_intent_id: str
    charge_id: str
    amount_cents: int
    currency: str
    status: str


@dataclass(frozen=True)
class TransferResult:
    transfer_id: str
    amount_cents: int
    destination: str
    transfer_group: str | None


@contextmanager
def _sorted_errors() -> Iterator[None]:
    try:
        yield
    except stripe.StripeError as exc:
        raise sort_stripe_error(exc) from exc


class StripeGateway:
    def __init__(
        self, client: stripe.StripeClient, *, http_client: stripe.HTTPClient | None = None
    ) -> None:
        self._client = client
        # Only a client this gateway built is closed by it; an injected one belongs to its owner.
        self._http_client = http_client

    @classmethod
    def connect(
        cls, api_key: str, api_base: str | None, timeout_seconds: float = 10.0
    ) -> StripeGateway:
        http_client = stripe.HTTPXClient(timeout=timeout_seconds)
        client = stripe.StripeClient(
            api_key,
            base_addresses={"api": api_base} if api_base else None,
            http_client=http_client,
            # Temporal owns retries (with the same idempotency key); the SDK must not add its own.
            max_network_retries=0,
        )
        return cls(client, http_client=http_client)

    async def charge(
        self,
        *,
        amount_cents: int,
        currency: str,
        payment_method: str,
        transfer_group: str,
        metadata: dict[str, str],
        idempotency_key: str,
        description: str | None = None,
    ) -> ChargeResult:
        params: PaymentIntentCreateParams = {
            "amount": amount_cents,
            "currency": currency,
            "payment_method": payment_method,
            "confirm": True,
            # Stripe 16 (API 2026-10) renamed payment_method_types to this.
            "allowed_payment_method_types": ["card"],
            # No customer is present to pass 3-D Secure, so such a card fails as a decline
            # now rather than leaving the order waiting on requires_action.
            "error_on_requires_action": True,
            "transfer_group": transfer_group,
            "metadata": metadata,
        }
        if description:
            params["description"] = description
        with _sorted_errors():
            intent = await self._client.v1.payment_intents.create_async(
                params=params, options={"idempotency_key": idempotency_key}
            )
        charge_id = _object_id(intent.latest_charge)
        if intent.status != "succeeded" or charge_id is None:
            raise ProviderRejectedError(
                "payment_intent_unexpected_state",
                f"PaymentIntent {intent.id} is {intent.status} after confirmation",
            )
        return ChargeResult(
            payment_intent_id=intent.id,
            charge_id=charge_id,
            amount_cents=intent.amount_received,
            currency=intent.currency,
            status=intent.status,
        )

    async def transfer(
        self,
        *,
        amount_cents: int,
        currency: str,
        destination: str,
        transfer_group: str,
        source_transaction: str,
        metadata: dict[str, str],
        idempotency_key: str,
    ) -> TransferResult:
        with _sorted_errors():
            transfer = await self._client.v1.transfers.create_async(
                params={
                    "amount": amount_cents,
                    "currency": currency,
                    "destination": destination,
                    "transfer_group": transfer_group,
                    # The charge id, not the PaymentIntent: the payout is funded by that charge
                    # even before it is available in the platform balance.
                    "source_transaction": source_transaction,
                    "metadata": metadata,
                },
                options={"idempotency_key": idempotency_key},
            )
        return TransferResult(
            transfer_id=transfer.id,
            amount_cents=transfer.amount,
            destination=_object_id(transfer.destination) or destination,
            transfer_group=transfer.transfer_group,
        )

    async def create_connected_account(
        self, *, email: str, idempotency_key: str, metadata: dict[str, str]
    ) -> str:
        with _sorted_errors():
            account = await self._client.v1.accounts.create_async(
                params={
                    "type": "express",
                    "country": "US",
                    "email": email,
                    "capabilities": {
                        "card_payments": {"requested": True},
                        "transfers": {"requested": True},
                    },
                    "metadata": metadata,
                },
                options={"idempotency_key": idempotency_key},
            )
        return account.id

    async def list_payment_intents_for(self, transfer_group: str) -> list[dict[str, Any]]:
        """Every PaymentIntent of a transfer group; Stripe cannot filter on it, so we do."""
        found: list[dict[str, Any]] = []
        params: PaymentIntentListParams = {"limit": _PAGE_SIZE}
        while True:
            with _sorted_errors():
                page = await self._client.v1.payment_intents.list_async(params=params)
            found.extend(pi.to_dict() for pi in page.data if pi.transfer_group == transfer_group)
            if not page.has_more or not page.data:
                return found
            params = {"limit": _PAGE_SIZE, "starting_after": page.data[-1].id}

    async def list_transfers(self, transfer_group: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        params: TransferListParams = {"limit": _PAGE_SIZE, "transfer_group": transfer_group}
        while True:
            with _sorted_errors():
                page = await self._client.v1.transfers.list_async(params=params)
            found.extend(transfer.to_dict() for transfer in page.data)
            if not page.has_more or not page.data:
                return found
            params = {
                "limit": _PAGE_SIZE,
                "transfer_group": transfer_group,
                "starting_after": page.data[-1].id,
            }

    async def aclose(self) -> None:
        if self._http_client is not None:
            await self._http_client.close_async()


def _object_id(value: Any) -> str | None:
    """An id from a field that is a bare id, or the object itself when it was expanded."""
    if value is None or isinstance(value, str):
        return value
    return str(value.id)
