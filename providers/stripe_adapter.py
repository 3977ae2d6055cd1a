"""Stripe Connect payments on the official SDK: one charge per order, one transfer per payout,
refunds, transfer reversals, and webhooks (verified by providers/stripe_webhooks.py).

Every POST carries the caller's deterministic idempotency key, so an activity that Temporal
retries after a timeout gets Stripe's first answer back instead of moving money twice.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, cast

import stripe
from stripe.params import PaymentIntentCreateParams, RefundCreateParams

from providers.errors import ProviderRejectedError, sort_stripe_error
from providers.stripe_webhooks import verified_event

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


@dataclass(frozen=True)
class RefundResult:
    refund_id: str
    amount_cents: int
    payment_intent_id: str
    status: str


@dataclass(frozen=True)
class ReversalResult:
    reversal_id: str
    transfer_id: str
    amount_cents: int


# One page of a Stripe list, fetched with the given parameters.
_PageFetcher = Callable[[Any], Awaitable[Any]]


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

    async def refund(
        self,
        *,
        payment_intent_id: str,
        amount_cents: int,
        metadata: dict[str, str],
        idempotency_key: str,
        reason: str | None = None,
    ) -> RefundResult:
        params: RefundCreateParams = {
            "payment_intent": payment_intent_id,
            "amount": amount_cents,
            # Carried to the charge.refunded webhook, where it names the vendor order refunded.
            "metadata": metadata,
        }
        if reason is not None:
            # One of Stripe's reasons (duplicate, fraudulent, requested_by_customer); Stripe
            # refuses any other, and that refusal is sorted like every other.
            params["reason"] = cast(Any, reason)
        with _sorted_errors():
            refund = await self._client.v1.refunds.create_async(
                params=params, options={"idempotency_key": idempotency_key}
            )
        return RefundResult(
            refund_id=refund.id,
            amount_cents=refund.amount,
            payment_intent_id=_object_id(refund.payment_intent) or payment_intent_id,
            status=refund.status or "pending",
        )

    async def reverse_transfer(
        self,
        *,
        transfer_id: str,
        amount_cents: int,
        metadata: dict[str, str],
        idempotency_key: str,
    ) -> ReversalResult:
        """Take back part of a payout. When the vendor has already spent it, Stripe refuses
        with ``balance_insufficient`` (a final ProviderRejectedError): record the debt."""
        with _sorted_errors():
            reversal = await self._client.v1.transfers.reversals.create_async(
                transfer_id,
                params={"amount": amount_cents, "metadata": metadata},
                options={"idempotency_key": idempotency_key},
            )
        return ReversalResult(
            reversal_id=reversal.id,
            transfer_id=_object_id(reversal.transfer) or transfer_id,
            amount_cents=reversal.amount,
        )

    async def retrieve_payment_intent(self, payment_intent_id: str) -> dict[str, Any]:
        with _sorted_errors():
            intent = await self._client.v1.payment_intents.retrieve_async(payment_intent_id)
        return intent.to_dict()

    async def list_payment_intents(self) -> list[dict[str, Any]]:
        """Every PaymentIntent of the account, all pages (reconciliation reads them once)."""
        return await _every(self._client.v1.payment_intents.list_async, {})

    async def list_payment_intents_for(self, transfer_group: str) -> list[dict[str, Any]]:
        """Every PaymentIntent of a transfer group; Stripe cannot filter on it, so we do."""
        intents = await self.list_payment_intents()
        return [intent for intent in intents if intent.get("transfer_group") == transfer_group]

    async def list_transfers(self, transfer_group: str) -> list[dict[str, Any]]:
        return await _every(
            self._client.v1.transfers.list_async, {"transfer_group": transfer_group}
        )

    async def transfers_of(self, transfer_group: str, vendor_order_id: str) -> list[TransferResult]:
        """The transfers already made for one vendor order, oldest first: a payout retried with
        a new key looks here first, so a transfer whose answer was lost is never made twice."""
        found = await self.list_transfers(transfer_group)
        mine = [
            t for t in found if (t.get("metadata") or {}).get("vendor_order_id") == vendor_order_id
        ]
        return [
            TransferResult(
                transfer_id=str(t["id"]),
                amount_cents=int(t["amount"]),
                destination=str(_object_id_of_dict(t.get("destination")) or ""),
                transfer_group=t.get("transfer_group"),
            )
            # Stripe lists newest first.
            for t in reversed(mine)
        ]

    async def list_refunds(self, payment_intent_id: str) -> list[dict[str, Any]]:
        return await _every(
            self._client.v1.refunds.list_async, {"payment_intent": payment_intent_id}
        )

    async def list_reversals(self, transfer_id: str) -> list[dict[str, Any]]:
        async def page(params: Any) -> Any:
            return await self._client.v1.transfers.reversals.list_async(transfer_id, params)

        return await _every(page, {})

    def parse_webhook(
        self,
        payload: bytes,
        signature_header: str | None,
        secret: str,
        tolerance_seconds: int = 300,
    ) -> dict[str, Any]:
        """A webhook's event once its signature holds, as a plain dict; what is refused and
        how is told by :func:`providers.stripe_webhooks.verified_event`."""
        return verified_event(payload, signature_header, secret, tolerance_seconds)

    async def aclose(self) -> None:
        if self._http_client is not None:
            await self._http_client.close_async()


def _object_id(value: Any) -> str | None:
    """An id from a field that is a bare id, or the object itself when it was expanded."""
    if value is None or isinstance(value, str):
        return value
    return str(value.id)


def _object_id_of_dict(value: Any) -> str | None:
    if isinstance(value, dict):
        return str(value.get("id") or "") or None
    return value if isinstance(value, str) else None


async def _every(fetch: _PageFetcher, filters: dict[str, Any]) -> list[dict[str, Any]]:
    """Every item of a Stripe list, page after page, as plain dicts."""
    found: list[dict[str, Any]] = []
    params: dict[str, Any] = {**filters, "limit": _PAGE_SIZE}
    while True:
        with _sorted_errors():
            page = await fetch(params)
        found.extend(item.to_dict() for item in page.data)
        if not page.has_more or not page.data:
            return found
        params = {**filters, "limit": _PAGE_SIZE, "starting_after": page.data[-1].id}
