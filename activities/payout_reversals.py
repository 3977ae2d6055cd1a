"""Taking a vendor's share back after a refund that came after its payout: a Stripe transfer
reversal, or, when the vendor's balance cannot cover it, a debt netted against its next payout
(activities.payments). The activity is RefundActivities.reverse_payout; this is its work.

The key is derived from the vendor order and the step, never random: a retried step replays
Stripe's first answer. Reversals Stripe made whose answers were lost are found by their key in
the transfer's metadata and recorded before anything is planned.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from activities.errors import provider_error
from domain.ids import SOURCE_METADATA
from domain.ledger import EntryKind
from domain.payout import plan_reversal
from models.messages.money import ReversalCommand, ReversalOutcome
from providers.errors import ProviderError, ProviderRejectedError
from providers.stripe_adapter import StripeGateway
from stores import ledger
from stores.ledger import vendor_order_of


class PayoutReversals:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], gateway: StripeGateway) -> None:
        self._sessions = sessions
        self._gateway = gateway

    async def reverse(self, command: ReversalCommand) -> ReversalOutcome:
        """Take back what the vendor was paid for goods refunded since (the caller holds the
        vendor order's reversal lock)."""
        reversal_key = f"{command.vendor_order_id}:reversal:{command.step}"
        debt_key = f"{command.vendor_order_id}:debt:{command.step}"
        async with self._sessions() as session, session.begin():
            transfer = await ledger.entry(session, f"{command.vendor_order_id}:payout:transfer")
        if transfer is not None and transfer.provider_id:
            # Reversals Stripe made whose answers were lost (their steps wait for a retry) are
            # recorded before anything is planned: planned without them, this step would take
            # their share back again (simulation seed 940; and a step of our own made before is
            # recorded as Stripe made it, at the amount decided then, seed 840).
            await self._record_unanswered(command.vendor_order_id, transfer.provider_id)
        async with self._sessions() as session, session.begin():
            vendor_order = await vendor_order_of(session, command.vendor_order_id, lock=True)
            for key, kind in ((reversal_key, "reversed"), (debt_key, "debt")):
                done = await ledger.entry(session, key)
                if done is not None:
                    return _reversal_outcome(kind, done.amount_cents)
            money = await ledger.money_of(session, vendor_order)
            plan = plan_reversal(money)
            if plan.debt_cents:
                # Paid by netting an earlier debt, not by a transfer: owed again at once.
                await ledger.record(
                    session,
                    vendor_order,
                    EntryKind.VENDOR_DEBT,
                    plan.debt_cents,
                    f"{vendor_order.id}:debt-again:{command.step}",
                )
            amount = plan.reverse_cents
            # Read again under the vendor order's lock: the read above only found what to
            # record first; this one is what the reversal is made against.
            transfer = await ledger.entry(session, f"{vendor_order.id}:payout:transfer")
            if amount == 0 or transfer is None or not transfer.provider_id:
                await ledger.adjust_commission(session, vendor_order, command.step)
                return ReversalOutcome(reversed_cents=0, debt_cents=0)
            transfer_id = transfer.provider_id
        try:
            result = await self._gateway.reverse_transfer(
                transfer_id=transfer_id,
                amount_cents=amount,
                metadata={
                    **SOURCE_METADATA,
                    "vendor_order_id": vendor_order.id,
                    "order_id": command.order_id,
                    "reversal_key": reversal_key,
                },
                idempotency_key=reversal_key,
            )
        except ProviderRejectedError as error:
            if error.code != "balance_insufficient":
                raise provider_error(error) from error
            await self._record(
                command, EntryKind.VENDOR_DEBT, amount, debt_key, detail={"reason": error.message}
            )
            return ReversalOutcome(reversed_cents=0, debt_cents=amount)
        except ProviderError as error:
            raise provider_error(error) from error
        await self._record(
            command,
            EntryKind.TRANSFER_REVERSAL,
            result.amount_cents,
            reversal_key,
            provider_id=result.reversal_id,
        )
        return ReversalOutcome(reversed_cents=result.amount_cents, debt_cents=0)

    async def _record(
        self, command: ReversalCommand, kind: EntryKind, cents: int, key: str, **fields: Any
    ) -> None:
        """The reversal (or the debt in its place) in the ledger, and the commission the
        refund gave back, in one transaction on the locked vendor order."""
        async with self._sessions() as session, session.begin():
            locked = await vendor_order_of(session, command.vendor_order_id, lock=True)
            await ledger.record(session, locked, kind, cents, key, **fields)
            await ledger.adjust_commission(session, locked, command.step)

    async def _record_unanswered(self, vendor_order_id: str, transfer_id: str) -> None:
        """Record every reversal of ours Stripe shows on the transfer that the ledger lacks,
        under its step's key, at the amount Stripe made it."""
        try:
            found = await self._gateway.list_reversals(transfer_id)
        except ProviderError as error:
            raise provider_error(error) from error
        ours = [
            (str(metadata["reversal_key"]), reversal)
            for reversal in found
            for metadata in [reversal.get("metadata") or {}]
            if metadata.get("vendor_order_id") == vendor_order_id and metadata.get("reversal_key")
        ]
        if not ours:
            return
        async with self._sessions() as session, session.begin():
            locked = await vendor_order_of(session, vendor_order_id, lock=True)
            for key, reversal in ours:
                if await ledger.entry(session, key) is None:
                    await ledger.record(
                        session,
                        locked,
                        EntryKind.TRANSFER_REVERSAL,
                        int(reversal["amount"]),
                        key,
                        provider_id=str(reversal["id"]),
                    )
                    # As if its step had recorded it: commission kept on goods given back
                    await ledger.adjust_commission(session, locked, f"found-{reversal['id']}")
            await ledger.refresh(session, locked)


def _reversal_outcome(kind: str, amount: int) -> ReversalOutcome:
    if kind == "reversed":
        return ReversalOutcome(reversed_cents=amount, debt_cents=0)
    return ReversalOutcome(reversed_cents=0, debt_cents=amount)
