"""Money through Stripe: the buyer's charge and the vendors' payouts (refunds and reversals
are in activities/refunds.py and activities/payout_reversals.py).

Keys are derived from the order and the step (domain.ids), never random, so a retried
activity replays the provider's first answer instead of moving money twice. Every movement is
recorded in the ledger (stores.ledger) in the same transaction as the totals it changes.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.errors import provider_error
from activities.order_events import record_event
from domain.errors import ErrorCode
from domain.ids import charge_idempotency_key, order_workflow_id, payout_idempotency_key
from domain.ledger import EntryKind
from domain.payout import plan_payout
from models.messages.money import ChargeOutcome, ChargeRequest, PayoutOutcome, PayoutRequest
from models.vendor import Vendor
from models.vendor_order import VendorOrder
from providers.errors import ProviderError, ProviderRejectedError
from providers.stripe_adapter import StripeGateway
from stores import ledger
from stores.ledger import payment_of, vendor_order_of
from temporal.names import Activity


class PaymentActivities:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], gateway: StripeGateway) -> None:
        self._sessions = sessions
        self._gateway = gateway

    @activity.defn(name=Activity.CHARGE)
    async def charge(self, request: ChargeRequest) -> ChargeOutcome:
        try:
            result = await self._gateway.charge(
                amount_cents=request.amount_cents,
                currency=request.currency,
                payment_method=request.payment_method,
                transfer_group=request.transfer_group,
                metadata={"order_id": request.order_id, "customer_id": request.customer_id},
                idempotency_key=charge_idempotency_key(request.order_id),
                description=f"Order {request.order_id}",
            )
        except ProviderError as error:
            raise provider_error(error) from error
        return ChargeOutcome(
            payment_intent_id=result.payment_intent_id,
            charge_id=result.charge_id,
            amount_cents=result.amount_cents,
        )

    @activity.defn(name=Activity.PAY_VENDOR)
    async def pay_vendor(self, request: PayoutRequest) -> PayoutOutcome:
        """Transfer the vendor's payout, less any debt it owes from earlier reversals.

        Never twice: a transfer already made for this vendor order (its answer lost, or made
        under an earlier attempt's key) is found at the provider and recorded instead."""
        transfer_key = f"{request.vendor_order_id}:payout:transfer"
        async with self._sessions() as session, session.begin():
            done = await ledger.entry(session, transfer_key)
            if done is not None:
                vendor_order = await vendor_order_of(session, request.vendor_order_id)
                money = await ledger.money_of(session, vendor_order)
                return PayoutOutcome(
                    transfer_id=done.provider_id or "",
                    amount_cents=done.amount_cents,
                    to_reverse_cents=money.to_reverse_cents,
                )
            vendor_order = await vendor_order_of(session, request.vendor_order_id)
            vendor = await session.get(Vendor, vendor_order.vendor_id, with_for_update=True)
            assert vendor is not None
            if not vendor.stripe_account_id:
                raise _payout_failed("the vendor has no Stripe account to pay", "no_account")
            money = await ledger.money_of(session, vendor_order)
            settle_key = f"{vendor_order.id}:payout:debt_settled"
            settled = await ledger.entry(session, settle_key)
            if settled is None:
                # Netted under the vendor's row lock, so two payouts never net one debt twice.
                plan = plan_payout(money, await ledger.debt_of_vendor(session, vendor.id))
                if plan.debt_settled_cents:
                    await ledger.record(
                        session,
                        vendor_order,
                        EntryKind.DEBT_SETTLED,
                        plan.debt_settled_cents,
                        settle_key,
                    )
                settled_cents = plan.debt_settled_cents
            else:
                settled_cents = settled.amount_cents
            amount = max(money.payout_cents - money.net_transferred_cents - settled_cents, 0)
            destination, charge_id = (
                vendor.stripe_account_id,
                await _charge_id(session, vendor_order),
            )
        transfer_id = None
        if amount > 0:
            group = order_workflow_id(request.order_id)
            try:
                made = await self._gateway.transfers_of(group, vendor_order.id)
                if made:
                    # Paid already: what was transferred is what is recorded, and anything
                    # refunded since it was worked out is reversed (to_reverse_cents).
                    transfer_id, amount = made[0].transfer_id, made[0].amount_cents
                else:
                    result = await self._gateway.transfer(
                        amount_cents=amount,
                        currency=vendor_order.currency,
                        destination=destination,
                        transfer_group=group,
                        source_transaction=charge_id,
                        metadata={
                            "vendor_order_id": vendor_order.id,
                            "order_id": request.order_id,
                            "vendor_id": vendor_order.vendor_id,
                        },
                        idempotency_key=payout_idempotency_key(vendor_order.id)
                        + (f":{request.attempt}" if request.attempt else ""),
                    )
                    transfer_id, amount = result.transfer_id, result.amount_cents
            except ProviderRejectedError as error:
                raise _payout_failed(error.message, error.code) from error
            except ProviderError as error:
                # An IdempotencyConflictError lands here too: retried, and the retry's look at
                # the provider finds the transfer the key's first use made, if it made one.
                raise provider_error(error) from error
        async with self._sessions() as session, session.begin():
            locked = await vendor_order_of(session, vendor_order.id, lock=True)
            await ledger.record(
                session, locked, EntryKind.TRANSFER, amount, transfer_key, provider_id=transfer_id
            )
            # The platform hears of it (docs/platform-events.md); once, as the transfer is.
            await record_event(
                session,
                locked.order_id,
                "payout.released",
                {"amount_cents": amount, "currency": locked.currency, "transfer_id": transfer_id},
                locked.id,
            )
            money = await ledger.money_of(session, locked)
            await ledger.record(
                session,
                locked,
                EntryKind.COMMISSION,
                money.commission_cents,
                f"{locked.id}:payout:commission",
            )
            money = await ledger.refresh(session, locked)
        return PayoutOutcome(
            transfer_id=transfer_id or "",
            amount_cents=amount,
            to_reverse_cents=money.to_reverse_cents,
        )


async def _charge_id(session: AsyncSession, vendor_order: VendorOrder) -> str:
    return (await payment_of(session, vendor_order.order_id)).charge_id


def _payout_failed(message: str, reason: str) -> ApplicationError:
    # Final for this attempt; the workflow flags the vendor order and tries again later.
    return ApplicationError(
        message, {"reason": reason}, type=ErrorCode.PAYOUT_FAILED, non_retryable=True
    )
