"""Refunds made outside the system (the Stripe dashboard, a lost dispute) are counted once,
whatever else happens to the order, and reach the vendor order through its own workflow
while it runs.

The Stripe event handler (api.routers.webhooks.stripe_events) runs against the real database
and Temporal; the adjustments it starts run on a worker of this module with the real refund
activities; the money is made at a Stripe emulator of this module's own.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio import workflow
from temporalio.client import (
    Client,
    Interceptor,
    OutboundInterceptor,
    SignalWorkflowInput,
    WorkflowHandle,
)
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from activities.refunds import RefundActivities
from api.errors import Problem
from api.routers.webhooks import stripe_events
from models.external_refund import ExternalRefundRecord
from models.messages.money import ExternalRefund, RefundCommand
from models.vendor_order import VendorOrder
from providers.errors import ProviderUnavailableError
from providers.stripe_adapter import StripeGateway
from tests.money_helpers import (
    PaidOrder,
    emulator_url,
    gateway,
    refund_entries,
    refunded_of,
    seed_paid_order,
    task_queue,
    temporal,
)
from tests.stripe_helpers import control, sdk_client
from workflows.payout_adjustment import PayoutAdjustmentWorkflow

__all__ = ["emulator_url", "gateway", "task_queue", "temporal"]


@workflow.defn(name="VendorOrderStandIn")
class VendorOrderStandIn:
    """A running vendor order's workflow, as far as outside refunds are concerned: it takes
    the `external_refund` signal and keeps what it got."""

    def __init__(self) -> None:
        self.refunds: list[ExternalRefund] = []
        self.done = False

    @workflow.run
    async def run(self) -> list[ExternalRefund]:
        await workflow.wait_condition(lambda: self.done)
        return self.refunds

    @workflow.signal(name="external_refund")
    def external_refund(self, refund: ExternalRefund) -> None:
        self.refunds.append(refund)

    @workflow.signal
    def finish(self) -> None:
        self.done = True


@pytest.fixture
async def worker(
    temporal: Client,
    task_queue: str,
    sessions: async_sessionmaker[AsyncSession],
    gateway: StripeGateway,
) -> AsyncIterator[RefundActivities]:
    refunds = RefundActivities(sessions, gateway)
    async with Worker(
        temporal,
        task_queue=task_queue,
        workflows=[PayoutAdjustmentWorkflow, VendorOrderStandIn],
        activities=[
            refunds.refund,
            refunds.record_external_refund,
            refunds.reverse_payout,
        ],
        # The stand-in lives in this test module, which the sandbox should not re-import.
        workflow_runner=UnsandboxedWorkflowRunner(),
    ):
        yield refunds


def cancellation(order: PaidOrder, vendor_order: str) -> RefundCommand:
    """The refund a vendor order's cancellation asks for: all it has left."""
    return RefundCommand(
        order_id=order.order_id,
        vendor_order_id=vendor_order,
        refund_key="cancel",
        amount_cents=0,
        remaining=True,
        reason="requested_by_customer",
    )


def event(kind: str, obj: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": f"evt_{uuid.uuid4().hex[:16]}",
        "object": "event",
        "type": kind,
        "data": {"object": obj},
    }


async def deliver(
    sessions: async_sessionmaker[AsyncSession],
    temporal: Client,
    task_queue: str,
    kind: str,
    obj: dict[str, Any],
) -> None:
    """What the webhook route does with a verified event: handle it in one transaction."""
    async with sessions() as session:
        await stripe_events.handle(event(kind, obj), session, temporal, task_queue)
        await session.commit()


async def adjustments_done(temporal: Client, vendor_orders: tuple[str, ...], ids: list[str]) -> int:
    """Wait for every adjustment started for these vendor orders and these refund ids."""
    finished = 0
    for vendor_order in vendor_orders:
        for name in ids:
            handle: WorkflowHandle[Any, Any] = temporal.get_workflow_handle(
                f"adjust-{vendor_order}-{name}"
            )
            try:
                await asyncio.wait_for(handle.result(), timeout=30)
            except RPCError as error:
                if error.status != RPCStatusCode.NOT_FOUND:
                    raise
                continue
            finished += 1
    return finished


async def charge_as_an_expanding_endpoint_sees_it(emulator_url: str, charge_id: str) -> Any:
    """The charge in a `charge.refunded` sent to an endpoint that expands its refunds (or
    pinned to an API version before 2022-11-15): it lists the refunds made so far."""
    async with sdk_client(emulator_url) as client:
        charge = await client.v1.charges.retrieve_async(charge_id, params={"expand": ["refunds"]})
    return charge.to_dict()


async def dashboard_refund(emulator_url: str, order: PaidOrder, amount: int) -> dict[str, Any]:
    async with sdk_client(emulator_url) as client:
        refund = await client.v1.refunds.create_async(
            params={"payment_intent": order.charge.payment_intent_id, "amount": amount}
        )
    return refund.to_dict()


async def test_an_unnamed_dashboard_refund_stays_counted_once_after_a_vendor_order_is_cancelled(
    emulator_url: str,
    sessions: async_sessionmaker[AsyncSession],
    gateway: StripeGateway,
    temporal: Client,
    task_queue: str,
    worker: RefundActivities,
) -> None:
    # Given an order of two vendor orders (30.00 and 20.00), and a 10.00 dashboard refund
    # naming no vendor order, shared 6.00 / 4.00 by what each could still refund
    order = await seed_paid_order(sessions, gateway, [3000, 2000])
    first, second = order.vendor_orders
    refund = await dashboard_refund(emulator_url, order, 1000)
    charge = await charge_as_an_expanding_endpoint_sees_it(emulator_url, order.charge.charge_id)
    await deliver(sessions, temporal, task_queue, "charge.refunded", charge)
    await adjustments_done(
        temporal, order.vendor_orders, [f"{refund['id']}:{vo}" for vo in order.vendor_orders]
    )
    # and the first vendor order then cancelled: our own refund of what it had left (24.00)
    await worker.refund(cancellation(order, first))

    # When Stripe announces the charge again (it lists the dashboard refund again), and the
    # dashboard refund's own events arrive late
    charge = await charge_as_an_expanding_endpoint_sees_it(emulator_url, order.charge.charge_id)
    await deliver(sessions, temporal, task_queue, "charge.refunded", charge)
    await deliver(sessions, temporal, task_queue, "refund.created", refund)
    await deliver(sessions, temporal, task_queue, "charge.refund.updated", refund)
    await adjustments_done(
        temporal,
        order.vendor_orders,
        [refund["id"], *(f"{refund['id']}:{vo}" for vo in order.vendor_orders)],
    )

    # Then the dashboard refund is in the ledger once, as first shared, and the ledger's
    # refunds are exactly Stripe's
    assert sorted(await refund_entries(sessions, order.order_id)) == sorted(
        [
            (first, f"stripe-refund:{refund['id']}:{first}", 600),
            (second, f"stripe-refund:{refund['id']}:{second}", 400),
            (first, f"{first}:refund:cancel", 2400),
        ]
    )
    assert charge["amount_refunded"] == 3400
    assert await refunded_of(sessions, order.order_id) == 3400


async def test_a_refund_counts_when_it_succeeds_and_never_when_it_fails(
    emulator_url: str,
    sessions: async_sessionmaker[AsyncSession],
    gateway: StripeGateway,
    temporal: Client,
    task_queue: str,
    worker: RefundActivities,
) -> None:
    # Given a one-vendor order paid by a card whose refunds start pending, and two dashboard
    # refunds of it
    order = await seed_paid_order(sessions, gateway, [5000], payment_method="pm_card_pendingRefund")
    (only,) = order.vendor_orders
    settles = await dashboard_refund(emulator_url, order, 700)
    fails = await dashboard_refund(emulator_url, order, 300)

    # When both are announced pending, then Stripe settles one and the other fails
    await deliver(sessions, temporal, task_queue, "refund.created", settles)
    await deliver(sessions, temporal, task_queue, "refund.created", fails)
    recorded_while_pending = await refund_entries(sessions, order.order_id)
    settled = await control(
        emulator_url, "POST", f"/_emulator/refunds/{settles['id']}/status", {"status": "succeeded"}
    )
    failed = await control(
        emulator_url, "POST", f"/_emulator/refunds/{fails['id']}/status", {"status": "failed"}
    )
    for kind in ("refund.updated", "charge.refund.updated"):
        await deliver(sessions, temporal, task_queue, kind, settled)
        await deliver(sessions, temporal, task_queue, kind, failed)
    await deliver(sessions, temporal, task_queue, "refund.failed", failed)
    await adjustments_done(temporal, order.vendor_orders, [settles["id"], fails["id"]])

    # Then only the refund that succeeded is in the ledger, once
    assert (settles["status"], fails["status"]) == ("pending", "pending")
    assert recorded_while_pending == []
    assert await refund_entries(sessions, order.order_id) == [
        (only, f"stripe-refund:{settles['id']}", 700)
    ]
    async with sessions() as session:
        assert await session.get(ExternalRefundRecord, fails["id"]) is None


async def test_a_lost_dispute_is_counted_once_however_often_it_is_announced(
    sessions: async_sessionmaker[AsyncSession],
    gateway: StripeGateway,
    temporal: Client,
    task_queue: str,
    worker: RefundActivities,
) -> None:
    # Given a two-vendor order whose charge was disputed and lost (12.00 taken back)
    order = await seed_paid_order(sessions, gateway, [3000, 1000])
    first, second = order.vendor_orders
    dispute = {
        "id": f"dp_{uuid.uuid4().hex[:14]}",
        "object": "dispute",
        "amount": 1200,
        "charge": order.charge.charge_id,
        "payment_intent": order.charge.payment_intent_id,
        "status": "lost",
    }
    await deliver(sessions, temporal, task_queue, "charge.dispute.closed", dispute)
    await adjustments_done(
        temporal, order.vendor_orders, [f"{dispute['id']}:{vo}" for vo in order.vendor_orders]
    )

    # When the first vendor order is cancelled and the dispute is announced again
    await worker.refund(cancellation(order, first))
    await deliver(sessions, temporal, task_queue, "charge.dispute.updated", dispute)
    await deliver(sessions, temporal, task_queue, "charge.dispute.closed", dispute)
    await adjustments_done(
        temporal,
        order.vendor_orders,
        [dispute["id"], *(f"{dispute['id']}:{vo}" for vo in order.vendor_orders)],
    )

    # Then the dispute's 12.00 is in the ledger once, shared as first decided
    assert sorted(await refund_entries(sessions, order.order_id)) == sorted(
        [
            (first, f"stripe-refund:{dispute['id']}:{first}", 900),
            (second, f"stripe-refund:{dispute['id']}:{second}", 300),
            (first, f"{first}:refund:cancel", 2100),
        ]
    )


async def test_an_outside_refund_goes_through_the_running_vendor_order_workflow_only(
    emulator_url: str,
    sessions: async_sessionmaker[AsyncSession],
    gateway: StripeGateway,
    temporal: Client,
    task_queue: str,
    worker: RefundActivities,
) -> None:
    # Given a vendor order whose workflow is running
    order = await seed_paid_order(sessions, gateway, [4000])
    (only,) = order.vendor_orders
    running = await temporal.start_workflow(
        VendorOrderStandIn.run, id=await _workflow_id_of(sessions, only), task_queue=task_queue
    )
    refund = await dashboard_refund(emulator_url, order, 500)

    # When Stripe announces a dashboard refund of its order
    await deliver(sessions, temporal, task_queue, "refund.created", refund)
    await running.signal(VendorOrderStandIn.finish)

    # Then the workflow got it, and no separate adjustment was started
    assert await running.result() == [
        ExternalRefund(
            order_id=order.order_id,
            vendor_order_id=only,
            provider_refund_id=refund["id"],
            amount_cents=500,
        )
    ]
    assert await adjustments_done(temporal, order.vendor_orders, [refund["id"]]) == 0


class _SignalsFail(Interceptor):
    """Temporal failing to take a signal for another reason than a closed workflow."""

    def intercept_client(self, next: OutboundInterceptor) -> OutboundInterceptor:
        class Failing(OutboundInterceptor):
            async def signal_workflow(self, input: SignalWorkflowInput) -> None:
                raise RPCError("the frontend is unavailable", RPCStatusCode.UNAVAILABLE, b"")

        return Failing(next)


async def test_a_signal_that_fails_for_another_reason_fails_the_webhook_and_starts_nothing(
    emulator_url: str,
    sessions: async_sessionmaker[AsyncSession],
    gateway: StripeGateway,
    temporal: Client,
    task_queue: str,
    worker: RefundActivities,
) -> None:
    # Given a vendor order whose workflow is running, and Temporal refusing signals for a while
    order = await seed_paid_order(sessions, gateway, [4000])
    (only,) = order.vendor_orders
    running = await temporal.start_workflow(
        VendorOrderStandIn.run, id=await _workflow_id_of(sessions, only), task_queue=task_queue
    )
    refund = await dashboard_refund(emulator_url, order, 500)
    flaky = Client(**{**temporal.config(), "interceptors": [_SignalsFail()]})

    # When Stripe announces a dashboard refund
    with pytest.raises(RPCError) as failed:
        await deliver(sessions, flaky, task_queue, "refund.created", refund)

    # Then the webhook fails (Stripe sends it again), no adjustment was started beside the
    # running workflow, and the ledger is unchanged
    assert failed.value.status == RPCStatusCode.UNAVAILABLE
    assert await adjustments_done(temporal, order.vendor_orders, [refund["id"]]) == 0
    assert await refund_entries(sessions, order.order_id) == []
    # And when Stripe sends it again, the running workflow gets it once
    await deliver(sessions, temporal, task_queue, "refund.created", refund)
    await running.signal(VendorOrderStandIn.finish)
    assert [r.provider_refund_id for r in await running.result()] == [refund["id"]]


async def _workflow_id_of(sessions: async_sessionmaker[AsyncSession], vendor_order_id: str) -> str:
    async with sessions() as session:
        vendor_order = await session.get(VendorOrder, vendor_order_id)
        assert vendor_order is not None
        return vendor_order.workflow_id


async def test_a_cancellation_before_a_dashboard_refund_is_announced_never_refunds_it_again(
    emulator_url: str,
    sessions: async_sessionmaker[AsyncSession],
    gateway: StripeGateway,
    temporal: Client,
    task_queue: str,
    worker: RefundActivities,
) -> None:
    # Given an order of two vendor orders (30.00 and 20.00) and a 10.00 dashboard refund
    # naming no vendor order, whose webhook has not arrived yet (found by the simulation,
    # seed 180779: the cancellation refunded the same money again)
    order = await seed_paid_order(sessions, gateway, [3000, 2000])
    first, second = order.vendor_orders
    refund = await dashboard_refund(emulator_url, order, 1000)
    # When the first vendor order is cancelled: our refund of what it has left
    outcome = await worker.refund(cancellation(order, first))
    # Then it refunds 24.00, not 30.00: the dashboard refund's 6.00 share was already given back
    assert outcome.amount_cents == 2400
    # And once the webhook arrives, the ledger holds exactly what Stripe refunded
    await deliver(sessions, temporal, task_queue, "refund.created", refund)
    await adjustments_done(
        temporal, order.vendor_orders, [f"{refund['id']}:{vo}" for vo in order.vendor_orders]
    )
    await assert_ledger_is_stripe(
        sessions,
        gateway,
        order,
        [
            (first, f"stripe-refund:{refund['id']}:{first}", 600),
            (second, f"stripe-refund:{refund['id']}:{second}", 400),
            (first, f"{first}:refund:cancel", 2400),
        ],
        3400,
    )


async def assert_ledger_is_stripe(
    sessions: async_sessionmaker[AsyncSession],
    gateway: StripeGateway,
    order: PaidOrder,
    entries: list[tuple[str, str, int]],
    total: int,
) -> None:
    """The ledger holds exactly these refund entries, and they add up to what Stripe refunded."""
    assert sorted(await refund_entries(sessions, order.order_id)) == sorted(entries)
    stripe_refunds = await gateway.list_refunds(order.charge.payment_intent_id)
    assert sum(r["amount"] for r in stripe_refunds) == total
    assert await refunded_of(sessions, order.order_id) == total


class WrappedGateway(StripeGateway):
    """The real gateway (same client, same emulator) with one call changed by a subclass."""

    def __init__(self, real: StripeGateway) -> None:
        self.__dict__.update(real.__dict__)


class PausedRefunds(WrappedGateway):
    """The real gateway, with our refund held just before it reaches Stripe: the moment a
    support agent's dashboard refund can slip in."""

    def __init__(self, real: StripeGateway) -> None:
        super().__init__(real)
        self.reached = asyncio.Event()
        self.go_on = asyncio.Event()

    async def refund(self, **kwargs: Any) -> Any:
        self.reached.set()
        await self.go_on.wait()
        return await super().refund(**kwargs)


async def test_a_dashboard_refund_made_while_a_cancellation_refunds_is_taken_from_the_rest(
    emulator_url: str,
    sessions: async_sessionmaker[AsyncSession],
    gateway: StripeGateway,
    temporal: Client,
    task_queue: str,
    worker: RefundActivities,
) -> None:
    # Given an order of two vendor orders (40.00 and 30.00) whose second is being cancelled:
    # its refund of all it holds is on its way to Stripe (simulation seed 401: the dashboard
    # refund's share of the cancelled one was dropped, the ledger fell short of Stripe, and
    # the other vendor's payout was refused for good)
    order = await seed_paid_order(sessions, gateway, [4000, 3000])
    first, second = order.vendor_orders
    paused = PausedRefunds(gateway)
    cancelling = asyncio.create_task(
        RefundActivities(sessions, paused).refund(cancellation(order, second))
    )
    await asyncio.wait_for(paused.reached.wait(), timeout=10)
    # When a support agent refunds 30.00 naming no vendor order, and its webhook arrives
    refund = await dashboard_refund(emulator_url, order, 3000)
    announced = asyncio.create_task(
        deliver(sessions, temporal, task_queue, "refund.created", refund)
    )
    await asyncio.sleep(0.5)
    paused.go_on.set()
    outcome = await asyncio.wait_for(cancelling, timeout=30)
    await asyncio.wait_for(announced, timeout=30)
    await adjustments_done(temporal, order.vendor_orders, [refund["id"]])
    # Then the cancellation refunded all of its 30.00, the dashboard refund is taken from the
    # first vendor order, and the ledger holds exactly what Stripe refunded
    assert outcome.amount_cents == 3000
    await assert_ledger_is_stripe(
        sessions,
        gateway,
        order,
        [
            (second, f"{second}:refund:cancel", 3000),
            (first, f"stripe-refund:{refund['id']}", 3000),
        ],
        6000,
    )


class LostAnswers(WrappedGateway):
    """The real gateway, but our refund's answer is lost after Stripe made it (a timeout)."""

    async def refund(self, **kwargs: Any) -> Any:
        await super().refund(**kwargs)
        raise ProviderUnavailableError("timeout", "the answer never came")


async def test_a_dashboard_refund_announced_while_our_refunds_answer_is_lost_goes_to_the_rest(
    emulator_url: str,
    sessions: async_sessionmaker[AsyncSession],
    gateway: StripeGateway,
    temporal: Client,
    task_queue: str,
    worker: RefundActivities,
) -> None:
    # Given an order of two vendor orders (40.00 and 30.00) whose second was cancelled: its
    # refund of all it holds was made at Stripe, but the answer was lost, so the activity
    # will try again (simulation seed 613: meanwhile a dashboard refund was shared onto the
    # cancelled vendor order, its share was dropped, and the ledger fell short of Stripe)
    order = await seed_paid_order(sessions, gateway, [4000, 3000])
    first, second = order.vendor_orders
    cancel = cancellation(order, second)
    with pytest.raises(ApplicationError):
        await RefundActivities(sessions, LostAnswers(gateway)).refund(cancel)
    # When a support agent refunds 30.00 naming no vendor order and its webhook arrives,
    # and then the cancellation's refund is tried again
    refund = await dashboard_refund(emulator_url, order, 3000)
    await deliver(sessions, temporal, task_queue, "refund.created", refund)
    outcome = await worker.refund(cancel)
    await adjustments_done(temporal, order.vendor_orders, [refund["id"]])
    # Then the cancellation counts its 30.00 once, the dashboard refund is the first vendor
    # order's, and the ledger holds exactly what Stripe refunded
    assert outcome.amount_cents == 3000
    assert sorted(await refund_entries(sessions, order.order_id)) == sorted(
        [
            (second, f"{second}:refund:cancel", 3000),
            (first, f"stripe-refund:{refund['id']}", 3000),
        ]
    )
    assert (
        sum(r["amount"] for r in await gateway.list_refunds(order.charge.payment_intent_id)) == 6000
    )
    assert await refunded_of(sessions, order.order_id) == 6000


class RefusedBeforeMade(WrappedGateway):
    """The real gateway, but Stripe fails our refund before making it (a 500): the activity
    will try again, its announcement left in flight meanwhile."""

    async def refund(self, **kwargs: Any) -> Any:
        raise ProviderUnavailableError("api_error", "an error on Stripe's side")


async def test_a_named_dashboard_refund_made_before_a_failed_attempt_of_ours_is_never_lost(
    emulator_url: str,
    sessions: async_sessionmaker[AsyncSession],
    gateway: StripeGateway,
    temporal: Client,
    task_queue: str,
    worker: RefundActivities,
) -> None:
    # Given a vendor order of 30.00 being cancelled, whose refund's first attempt failed at
    # Stripe before anything was made (its announcement stays in flight until it is retried)
    order = await seed_paid_order(sessions, gateway, [3000])
    (vendor_order,) = order.vendor_orders
    cancel = cancellation(order, vendor_order)
    with pytest.raises(ApplicationError):
        await RefundActivities(sessions, RefusedBeforeMade(gateway)).refund(cancel)
    # When a support agent refunds 6.80 naming that vendor order, and its webhook arrives
    # (simulation seed 834: the refund was shared as if ours had taken everything, so nothing
    # was kept for it; ours was then refused as too large, and the 6.80 never reached the
    # ledger: the payout was refused for good)
    async with sdk_client(emulator_url) as client:
        made = await client.v1.refunds.create_async(
            params={
                "payment_intent": order.charge.payment_intent_id,
                "amount": 680,
                "metadata": {"vendor_order_id": vendor_order},
            }
        )
    refund = made.to_dict()
    # Then the webhook is asked to come again rather than decide while ours is in flight
    with pytest.raises(Problem) as waiting:
        await deliver(sessions, temporal, task_queue, "refund.created", refund)
    assert waiting.value.code == "unavailable"
    # And the cancellation, tried again, refunds what is left, the webhook sent again counts
    # the 6.80, and the ledger holds exactly what Stripe refunded
    outcome = await worker.refund(cancel)
    assert outcome.amount_cents == 2320
    await deliver(sessions, temporal, task_queue, "refund.created", refund)
    await adjustments_done(temporal, order.vendor_orders, [refund["id"]])
    await assert_ledger_is_stripe(
        sessions,
        gateway,
        order,
        [
            (vendor_order, f"{vendor_order}:refund:cancel", 2320),
            (vendor_order, f"stripe-refund:{refund['id']}", 680),
        ],
        3000,
    )
