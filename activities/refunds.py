"""Money back to the buyer through Stripe: refunds, and taking the vendor's share back.

Keys are derived from the vendor order and the refund, never random: a retried activity
replays the provider's first answer. Each movement is recorded in the ledger in the same
transaction as the totals it changes; a reversal the vendor cannot cover becomes a debt
netted against its next payout (activities.payments). How a reversal is made is
activities/payout_reversals.py.
"""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.errors import business_error, provider_error
from activities.order_events import record_event
from activities.payout_reversals import PayoutReversals
from domain.errors import DomainError, ErrorCode, InvalidState
from domain.ids import SOURCE_METADATA, refund_idempotency_key
from domain.ledger import EntryKind, VendorOrderMoney
from domain.refunds import RefundShare, split_refund
from models.messages.money import (
    ExternalRefund,
    ExternalReversal,
    RefundCommand,
    RefundOutcome,
    ReversalCommand,
    ReversalOutcome,
)
from providers.errors import ProviderError, ProviderRejectedError
from providers.stripe_adapter import RefundResult, StripeGateway
from stores import external_refunds, ledger, refunds_in_flight, span_locks
from stores.ledger import payment_of, vendor_order_of
from temporal.names import Activity

# A refund asked for again after this many refusals is refused for good (each one is a
# request to Stripe that replays its kept refusal before the next key is tried).
MOST_KEPT_REFUSALS = 50


def event_key(ledger_key: str) -> str:
    """A refund's event is known by its ledger entry; hashed, since a ledger key may be longer
    than an event's identity can hold."""
    return hashlib.sha256(ledger_key.encode()).hexdigest()[:32]


def _is_ours(refund: dict[str, Any], command: RefundCommand) -> bool:
    """This very refund (vendor order and refund key), made at Stripe and not failed."""
    metadata = refund.get("metadata") or {}
    return (
        metadata.get("source") == SOURCE_METADATA["source"]
        and metadata.get("vendor_order_id") == command.vendor_order_id
        and metadata.get("refund_key") == command.refund_key
        and refund.get("status") not in ("failed", "canceled")
    )


class RefundActivities:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], gateway: StripeGateway) -> None:
        self._sessions = sessions
        self._gateway = gateway
        self._reversals = PayoutReversals(sessions, gateway)

    @activity.defn(name=Activity.REFUND)
    async def refund(self, command: RefundCommand) -> RefundOutcome:
        key = f"{command.vendor_order_id}:refund:{command.refund_key}"
        async with self._sessions() as session, session.begin():
            done = await ledger.entry(session, key)
        seen: list[dict[str, Any]] = []
        if done is None:
            seen = await self._learn_outside_refunds(command.vendor_order_id, key, command)
        # Ours already made at Stripe (its answer lost, or made before the amount changed):
        # recorded as it is, never made again under another key.
        made = next((r for r in seen if _is_ours(r, command)), None)
        # The amount is decided under the vendor order's lock, and announced as in flight
        # before Stripe is asked (stores/refunds_in_flight.py): an outside refund announced
        # while Stripe answers, or while a lost answer waits for this activity's retry, is
        # shared from what this refund leaves (stores.external_refunds.decide_once), never
        # onto money it already gave back. No lock or connection is held while Stripe answers.
        async with self._sessions() as session, session.begin():
            vendor_order = await vendor_order_of(session, command.vendor_order_id, lock=True)
            done = await ledger.entry(session, key)
            money = await ledger.money_of(session, vendor_order)
            if done is not None:
                await refunds_in_flight.withdraw(session, key)
                return _refund_outcome(done.provider_id, done.amount_cents, money)
            payment = await payment_of(session, vendor_order.order_id)
            # Money an outside refund already gave back for this vendor order, not yet in its
            # ledger (its signal waits behind this refund), and other refunds of ours in
            # flight: never refunded a second time.
            pending = await external_refunds.unrecorded_cents(
                session, vendor_order.id, payment.payment_intent_id
            )
            pending += await refunds_in_flight.cents_of(session, vendor_order.id, besides=key)
            refundable = max(money.refundable_cents - pending, 0)
            amount = refundable if command.remaining else command.amount_cents
            if command.at_most:
                amount = min(amount, refundable)
            if made is not None:
                amount = int(made["amount"])
            elif amount == 0 and (command.remaining or command.at_most):
                await refunds_in_flight.withdraw(session, key)
                return _refund_outcome(None, 0, money)
            elif amount > refundable:
                raise business_error(
                    InvalidState(
                        f"only {refundable} can still be refunded (outside refunds took the rest)",
                        refundable_cents=refundable,
                    )
                )
            try:
                split_refund(amount, money, ledger.terms_of(vendor_order))
            except DomainError as error:
                raise business_error(error) from error
            await refunds_in_flight.announce(
                session, key, vendor_order.order_id, vendor_order.id, amount
            )
        if made is not None:
            result = RefundResult(
                refund_id=str(made["id"]),
                amount_cents=amount,
                payment_intent_id=payment.payment_intent_id,
                status=str(made.get("status", "succeeded")),
            )
        else:
            try:
                result = await self._make_refund(command, payment.payment_intent_id, amount, key)
            except ApplicationError as error:
                if error.non_retryable:  # refused: no money moved, nothing in flight
                    async with self._sessions() as session, session.begin():
                        await refunds_in_flight.withdraw(session, key)
                raise
        async with self._sessions() as session, session.begin():
            vendor_order = await vendor_order_of(session, command.vendor_order_id, lock=True)
            money = await ledger.money_of(session, vendor_order)
            try:
                goods, _ = split_refund(result.amount_cents, money, ledger.terms_of(vendor_order))
            except DomainError:
                # Stripe refunded it: it is recorded whatever happened meanwhile, goods first.
                goods_left = (
                    ledger.terms_of(vendor_order).subtotal_cents - money.refunded_goods_cents
                )
                goods = min(result.amount_cents, max(goods_left, 0))
            await ledger.record(
                session,
                vendor_order,
                EntryKind.REFUND,
                result.amount_cents,
                key,
                provider_id=result.refund_id,
                refunded_goods_cents=goods,
                detail={"reason": command.reason},
            )
            # The platform hears of it (docs/platform-events.md), once per ledger entry.
            await record_event(
                session,
                vendor_order.order_id,
                "refund.succeeded" if result.status == "succeeded" else "refund.created",
                {
                    "refund_id": result.refund_id,
                    "amount_cents": result.amount_cents,
                    "currency": vendor_order.currency,
                    "status": result.status,
                    "reason": command.reason,
                },
                vendor_order.id,
                key=event_key(key),
            )
            await refunds_in_flight.withdraw(session, key)
            money = await ledger.refresh(session, vendor_order)
        return _refund_outcome(result.refund_id, result.amount_cents, money)

    async def _make_refund(
        self, command: RefundCommand, payment_intent_id: str, amount: int, key: str
    ) -> RefundResult:
        # The amount is in the key: a refusal kept for one amount (a charge that had less left
        # than the ledger knew) never blocks the right amount later.
        for refused_before in range(MOST_KEPT_REFUSALS):
            try:
                return await self._gateway.refund(
                    payment_intent_id=payment_intent_id,
                    amount_cents=amount,
                    metadata={
                        **SOURCE_METADATA,
                        "order_id": command.order_id,
                        "vendor_order_id": command.vendor_order_id,
                        "refund_key": command.refund_key,
                    },
                    idempotency_key=refund_idempotency_key(key, amount, refused_before),
                    reason=command.reason,
                )
            except ProviderRejectedError as error:
                if not error.replayed:
                    raise provider_error(error) from error
                # Stripe keeps a refusal under its key for a day: this key was refused before
                # (the charge was disputed then), so it moved no money. The cause may have
                # cleared since: ask again under the next key, never leaving one that may
                # have refunded.
            except ProviderError as error:
                raise provider_error(error) from error
        raise provider_error(
            ProviderRejectedError(
                "refund_refused", f"refused {MOST_KEPT_REFUSALS} times; ask support to refund"
            )
        )

    async def _learn_outside_refunds(
        self, vendor_order_id: str, key: str, command: RefundCommand
    ) -> list[dict[str, Any]]:
        """Refunds made outside (the dashboard) that no webhook has announced yet: their
        sharing is decided now, as the webhook would, so a refund of ours does not give the
        same money back twice. This refund's own announcement (left by an attempt whose
        answer never came) is not counted when Stripe's list shows it was not made."""
        async with self._sessions() as session:
            vendor_order = await vendor_order_of(session, vendor_order_id)
            payment = await payment_of(session, vendor_order.order_id)
        try:
            refunds = await self._gateway.list_refunds(payment.payment_intent_id)
        except ProviderError as error:
            raise provider_error(error) from error
        ours_made = any(_is_ours(found, command) for found in refunds)
        for found in refunds:
            metadata = found.get("metadata") or {}
            if (
                metadata.get("source") == SOURCE_METADATA["source"]
                or found.get("status") != "succeeded"
            ):
                continue
            async with self._sessions() as session, session.begin():
                try:
                    await external_refunds.decide_once(
                        session,
                        vendor_order.order_id,
                        str(found["id"]),
                        int(found["amount"]),
                        metadata.get("vendor_order_id"),
                        besides="" if ours_made else key,
                    )
                except external_refunds.WaitForRefundsInFlight as waiting:
                    # Another refund of ours is on its way: this one waits for it (retried).
                    raise ApplicationError(
                        f"outside refund {waiting} waits for refunds in flight",
                        type=ErrorCode.UNAVAILABLE,
                    ) from waiting
        return refunds

    @activity.defn(name=Activity.RECORD_EXTERNAL_REFUND)
    async def record_external_refund(self, refund: ExternalRefund) -> RefundOutcome:
        """A refund made in the Stripe dashboard or API: it reduces this vendor order's payout.

        The share recorded is the one kept when the refund was first seen (stores/
        external_refunds.py), whatever the message says: a message sent before a later event
        shared the refund differently can then never record it a second time."""
        async with self._sessions() as session, session.begin():
            vendor_order = await vendor_order_of(session, refund.vendor_order_id, lock=True)
            share = await _kept_share(session, refund)
            if share is not None:
                key = external_refunds.ledger_key(share.provider_refund_id)
                if await ledger.entry(session, key) is None:
                    money = await ledger.money_of(session, vendor_order)
                    amount = min(share.amount_cents, money.refundable_cents)
                    if amount > 0:
                        goods, _ = split_refund(amount, money, ledger.terms_of(vendor_order))
                        await ledger.record(
                            session,
                            vendor_order,
                            EntryKind.REFUND,
                            amount,
                            key,
                            provider_id=share.provider_refund_id,
                            refunded_goods_cents=goods,
                            detail={"source": "stripe"},
                        )
                        await record_event(
                            session,
                            vendor_order.order_id,
                            "refund.succeeded",
                            {
                                "refund_id": share.provider_refund_id,
                                "amount_cents": amount,
                                "currency": vendor_order.currency,
                                "status": "succeeded",
                                "source": "stripe",
                            },
                            vendor_order.id,
                            key=event_key(key),
                        )
            money = await ledger.refresh(session, vendor_order)
        if share is None:
            return _refund_outcome(refund.provider_refund_id, 0, money)
        return _refund_outcome(share.provider_refund_id, share.amount_cents, money)

    @activity.defn(name=Activity.REVERSE_PAYOUT)
    async def reverse_payout(self, command: ReversalCommand) -> ReversalOutcome:
        """After a refund that came after the payout: take the vendor's share back. If its
        balance cannot cover it, the debt is recorded and netted against its next payout."""
        # One reversal of a vendor order at a time (simulation seed 935): two steps run at once
        # (the vendor order's own and an adjustment's, retried together after a worker
        # restart) both planned the whole amount still to reverse, and the second was asked
        # of Stripe again (refused there only because the transfer was smaller than twice it).
        async with span_locks.one_at_a_time(self._sessions, f"reversal:{command.vendor_order_id}"):
            return await self._reversals.reverse(command)

    @activity.defn(name=Activity.RECORD_EXTERNAL_REVERSAL)
    async def record_external_reversal(self, reversal: ExternalReversal) -> ReversalOutcome:
        """A reversal made outside the system: the ledger follows what the provider did."""
        async with self._sessions() as session, session.begin():
            vendor_order = await vendor_order_of(session, reversal.vendor_order_id, lock=True)
            await ledger.record(
                session,
                vendor_order,
                EntryKind.TRANSFER_REVERSAL,
                reversal.amount_cents,
                f"stripe-reversal:{reversal.provider_reversal_id}",
                provider_id=reversal.provider_reversal_id,
                detail={"source": "stripe"},
            )
            await ledger.refresh(session, vendor_order)
        return ReversalOutcome(reversed_cents=reversal.amount_cents, debt_cents=0)


async def _kept_share(session: AsyncSession, refund: ExternalRefund) -> RefundShare | None:
    """This vendor order's share of the refund as kept, or None if it has none. A refund with
    nothing kept (a message from before sharings were kept) is taken as the message says."""
    kept = await external_refunds.shares_of(
        session, external_refunds.stripe_id_of(refund.provider_refund_id)
    )
    if kept is None:
        return RefundShare(refund.vendor_order_id, refund.amount_cents, refund.provider_refund_id)
    return next((s for s in kept if s.vendor_order_id == refund.vendor_order_id), None)


def _refund_outcome(provider_id: str | None, amount: int, money: VendorOrderMoney) -> RefundOutcome:
    return RefundOutcome(
        provider_refund_id=provider_id,
        amount_cents=amount,
        refunded_cents=money.refunded_cents,
        to_reverse_cents=money.to_reverse_cents,
    )
