"""Money through Stripe: the buyer's charge and each vendor's payout.

Keys are derived from the order and the step (domain.ids), never random, so a retried
activity replays the provider's first answer instead of charging or paying twice.
"""

from __future__ import annotations

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.errors import provider_error
from domain.ids import charge_idempotency_key, order_workflow_id, payout_idempotency_key
from domain.payout import payout_breakdown
from domain.status import PayoutStatus
from models.base import utcnow
from models.db import execute_sql
from models.messages import ChargeOutcome, ChargeRequest, PayoutOutcome, PayoutRequest
from models.payment import Payment, Payout
from models.vendor import Vendor
from models.vendor_order import VendorOrder
from providers.errors import ProviderError
from providers.stripe_adapter import StripeGateway


class PaymentActivities:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], gateway: StripeGateway) -> None:
        self._sessions = sessions
        self._gateway = gateway

    @activity.defn(name="payments.charge")
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

    @activity.defn(name="payments.pay_vendor")
    async def pay_vendor(self, request: PayoutRequest) -> PayoutOutcome:
        async with self._sessions() as session:
            vendor_order = await session.get(VendorOrder, request.vendor_order_id)
            if vendor_order is None:
                raise ApplicationError(
                    f"vendor order {request.vendor_order_id} does not exist",
                    type="not_found",
                    non_retryable=True,
                )
            done = (
                await session.exec(
                    select(Payout).where(Payout.vendor_order_id == request.vendor_order_id)
                )
            ).first()
            if done is not None:
                return PayoutOutcome(transfer_id=done.transfer_id, amount_cents=done.amount_cents)
            vendor = await session.get(Vendor, vendor_order.vendor_id)
            payment = (
                await session.exec(select(Payment).where(Payment.order_id == request.order_id))
            ).one()
        assert vendor is not None
        if not vendor.stripe_account_id:
            # Retried by the workflow's policy until the vendor is onboarded (#3 flags it).
            raise RuntimeError(f"vendor {vendor.id} has no Stripe account to pay")
        breakdown = payout_breakdown(
            subtotal_cents=vendor_order.subtotal_cents,
            shipping_cents=vendor_order.shipping_cents,
            commission_bps=vendor_order.commission_bps,
            # No refunds exist before #3's ledger, which splits refunded goods from shipping.
            refunded_goods_cents=vendor_order.refunded_cents,
            label_cost_cents=vendor_order.label_cost_cents,
        )
        transfer_group = order_workflow_id(request.order_id)
        try:
            result = await self._gateway.transfer(
                amount_cents=breakdown.payout_cents,
                currency=vendor_order.currency,
                destination=vendor.stripe_account_id,
                transfer_group=transfer_group,
                source_transaction=payment.charge_id,
                metadata={
                    "vendor_order_id": vendor_order.id,
                    "order_id": request.order_id,
                    "vendor_id": vendor.id,
                },
                idempotency_key=payout_idempotency_key(vendor_order.id),
            )
        except ProviderError as error:
            raise provider_error(error) from error
        async with self._sessions() as session, session.begin():
            await execute_sql(
                session,
                insert(Payout)
                .values(
                    vendor_order_id=vendor_order.id,
                    vendor_id=vendor.id,
                    amount_cents=result.amount_cents,
                    currency=vendor_order.currency,
                    destination=vendor.stripe_account_id,
                    transfer_id=result.transfer_id,
                    transfer_group=transfer_group,
                    status="paid",
                    idempotency_key=payout_idempotency_key(vendor_order.id),
                    created_at=utcnow(),
                )
                .on_conflict_do_nothing(index_elements=["vendor_order_id"]),
            )
            locked = await session.get(VendorOrder, vendor_order.id, with_for_update=True)
            assert locked is not None
            locked.commission_cents = breakdown.commission_cents
            locked.payout_cents = result.amount_cents
            locked.payout_status = PayoutStatus.RELEASED
            locked.updated_at = utcnow()
            session.add(locked)
        return PayoutOutcome(transfer_id=result.transfer_id, amount_cents=result.amount_cents)
