"""OrderWorkflow: the saga of one order.

price -> record -> reserve -> charge -> confirm (checkout's update answers here) -> one child
VendorOrderWorkflow per vendor -> follow them to completed. A refusal compensates in reverse
and fails the workflow with an ApplicationError whose type is the API's error code.

Here the story; the steps' plumbing is workflows/order_base.py, the pricing and per-vendor
plans workflows/order_plan.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from domain import progress
    from domain.attention import AttentionReason
    from domain.errors import DomainError, ErrorCode
    from domain.money import ensure_chargeable
    from domain.pricing import PricedLine
    from domain.splitting import VendorSplit, order_totals, split_by_vendor
    from domain.status import OrderStatus, VendorOrderStatus, order_status_for
    from models.messages.checkout import (
        CatalogRequest,
        CatalogSnapshot,
        CheckoutRequest,
        CheckoutResult,
        ConfirmedOrder,
        ConfirmOrderRequest,
        OrderInput,
        OrderStatusChange,
        OrderTotals,
        PricedLineMsg,
        ReserveRequest,
        ReserveResult,
        VendorOrderPlan,
    )
    from models.messages.money import ChargeOutcome, ChargeRequest
    from models.messages.vendor_order import VendorOrderStatusSignal
    from temporal import search_attributes as sa
    from temporal.names import Activity, Query, Signal, Update, Workflow
    from workflows.options import (
        CHARGE,
        STEP_FAILED,
    )
    from workflows.order_base import LEAN_PATCH, OrderBase
    from workflows.order_plan import priced_lines, vendor_order_plans
    from workflows.refusal import Refusal


@workflow.defn(name=Workflow.ORDER)
class OrderWorkflow(OrderBase):
    @workflow.init
    def __init__(self, order: OrderInput) -> None:
        self._order = order
        self._status = OrderStatus.PENDING
        self._result: CheckoutResult | None = None
        self._refusal: Refusal | None = None
        self._vendor_status: dict[str, VendorOrderStatus] = {}
        self._changed = False
        self._buffering = True  # until the checkout ends (one upsert per step)
        self._view: ConfirmedOrder | None = None
        self._notifies: dict[str, bool] = {}
        self._vendor_names: dict[str, str] = {}  # as operators read them (domain/progress.py)
        # Search attribute changes not sent yet (lean: one upsert per step, not per field).
        self._pending_attributes: dict[str, Any] = {}

    @workflow.run
    async def run(self, order: OrderInput) -> str:
        workflow.deprecate_patch(LEAN_PATCH)
        if sa.CUSTOMER_ID not in workflow.info().typed_search_attributes:
            # The API starts runs with it (api/routers/checkout.py); any other starter
            # (a script, an older API during a deploy) gets it set here.
            self._upsert(sa.CUSTOMER_ID.value_set(order.customer_id))
        compensations: list[Callable[[], Awaitable[Any]]] = []
        try:
            plans = await self._check_out(compensations)
        except Refusal as refusal:
            for compensate in reversed(compensations):
                await compensate()
            self._refusal = refusal
            workflow.set_current_details(progress.order_refused(refusal.code, refusal.detail))
            self._status = OrderStatus.REJECTED
            self._upsert(sa.ORDER_STATUS.value_set(self._status))
            self._flush_attributes()
            await workflow.wait_condition(workflow.all_handlers_finished)
            raise refusal.application_error() from None
        # Children exist before checkout answers: a vendor may ship the moment it is told.
        children = await self._start_vendor_orders(plans)
        self._result = CheckoutResult(
            order_id=order.order_id, status=self._status, order=self._view
        )
        await self._follow(plans, children)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._status

    @workflow.update(name=Update.CHECKOUT)
    async def checkout(self, request: CheckoutRequest) -> CheckoutResult:
        """Answers the storefront as soon as the order is confirmed or refused."""
        await workflow.wait_condition(lambda: self._result is not None or self._refusal is not None)
        if self._refusal is not None:
            raise self._refusal.application_error()
        assert self._result is not None
        return self._result

    @checkout.validator
    def _same_request(self, request: CheckoutRequest) -> None:
        if request.request_fingerprint != self._order.request_fingerprint:
            raise ApplicationError(
                "this Idempotency-Key was used for a different order",
                type=ErrorCode.IDEMPOTENCY_KEY_REUSED,
            )

    @workflow.signal(name=Signal.VENDOR_ORDER_CHANGED)
    def vendor_order_changed(self, change: VendorOrderStatusSignal) -> None:
        self._vendor_status[change.vendor_order_id] = VendorOrderStatus(change.status)
        self._changed = True

    @workflow.query(name=Query.ORDER_STATUS)
    def status(self) -> str:
        return self._status

    async def _check_out(
        self, compensations: list[Callable[[], Awaitable[Any]]]
    ) -> list[VendorOrderPlan]:
        """Price, record, reserve, charge, confirm. A refusal is raised as a Refusal once the
        order store has it; what was done before it is undone by `compensations`."""
        catalog = await self._step(
            Activity.LOAD_CATALOG,
            CatalogRequest(skus=sorted({line.sku for line in self._order.lines})),
            CatalogSnapshot,
        )
        self._vendor_names = {e.vendor_id: e.vendor_name or e.vendor_id for e in catalog.entries}
        priced, lines = await self._price(catalog)
        splits = await self._record(priced, lines, compensations)
        self._say_checking_out(splits)
        compensations.append(self._release)
        try:
            reserved, splits = await self._reserve(priced, lines, splits)
            charge = await self._charge(order_totals(splits)[2])
        except STEP_FAILED as error:
            refusal = Refusal.of_step(error)
            if refusal is None:
                raise
            await self._reject(refusal)
            raise refusal from None
        return await self._confirm(catalog, splits, reserved, charge)

    async def _price(
        self, catalog: CatalogSnapshot
    ) -> tuple[list[PricedLine], list[PricedLineMsg]]:
        """Each line at its quantity's price tier; a line the catalog cannot price is refused."""
        try:
            priced = priced_lines(self._order, catalog)
        except DomainError as error:
            refusal = Refusal.of_domain(error)
            await self._create_order([], rejection=refusal.rejection())
            raise refusal from None
        lines = [
            PricedLineMsg(
                line_no=n,
                sku=p.sku,
                vendor_id=p.vendor_id,
                quantity=p.quantity,
                unit_price_cents=p.unit_price_cents,
                line_total_cents=p.line_total_cents,
            )
            for n, p in enumerate(priced, start=1)
        ]
        return priced, lines

    async def _record(
        self,
        priced: list[PricedLine],
        lines: list[PricedLineMsg],
        compensations: list[Callable[[], Awaitable[Any]]],
    ) -> list[VendorSplit]:
        """Record the order, split by vendor, before any stock is held: an amount no provider
        would charge is refused here; a refusal an earlier run of this saga kept is the
        answer again."""
        splits = split_by_vendor(priced)
        subtotal, shipping, total = order_totals(splits)
        try:
            ensure_chargeable(total, self._order.currency)
        except DomainError as error:
            refusal = Refusal.of_domain(error)
            await self._create_order(lines, rejection=refusal.rejection())
            raise refusal from None
        self._upsert(
            sa.VENDOR_IDS.value_set([s.vendor_id for s in splits]),
            sa.ORDER_TOTAL.value_set(total),
        )
        try:
            refused_before = await self._create_order(lines, totals=(subtotal, shipping, total))
        except STEP_FAILED as error:
            refused = Refusal.of_step(error)
            if refused is None:
                raise
            # The order store refused the data itself: nothing was written, nothing to undo.
            raise refused from None
        if refused_before is not None:
            # This saga refused the order before a crash lost its steps' markers (local
            # activities are recorded when their workflow task completes): its steps run
            # again, and the refusal the store kept is the answer, never a new one from a
            # reservation already released. Whatever it still holds is released.
            compensations.append(self._release)
            raise Refusal.kept(refused_before)
        return splits

    async def _reserve(
        self, priced: list[PricedLine], lines: list[PricedLineMsg], splits: list[VendorSplit]
    ) -> tuple[ReserveResult, list[VendorSplit]]:
        """Hold every line's units in the warehouses the routing chooses, or none; postage is
        known once the parcels are, and the order's totals follow it."""
        order = self._order
        reserved = await self._step(
            Activity.RESERVE,
            ReserveRequest(
                order_id=order.order_id,
                lines=lines,
                hold_seconds=order.timing.hold_seconds,
                latitude=order.shipping_address.get("latitude"),
                longitude=order.shipping_address.get("longitude"),
            ),
            ReserveResult,
        )
        if reserved.shipping_cents:
            splits = split_by_vendor(priced, reserved.shipping_cents)
            subtotal, shipping, total = order_totals(splits)
            try:
                ensure_chargeable(total, order.currency)
            except DomainError as error:
                refusal = Refusal.of_domain(error)
                await self._reject(refusal)
                raise refusal from None
            self._upsert(sa.ORDER_TOTAL.value_set(total))
            await self._step(
                Activity.SET_TOTALS,
                OrderTotals(
                    order_id=order.order_id,
                    subtotal_cents=subtotal,
                    shipping_cents=shipping,
                    total_cents=total,
                ),
            )
        return reserved, splits

    async def _charge(self, total: int) -> ChargeOutcome:
        """One PaymentIntent for the whole order. Local in lean runs too: its Stripe key is the
        order's, so a run again after a crash (no marker recorded) gets Stripe's first answer,
        never a second charge."""
        order = self._order
        return await self._step(  # type: ignore[no-any-return]
            Activity.CHARGE,
            ChargeRequest(
                order_id=order.order_id,
                amount_cents=total,
                currency=order.currency,
                payment_method=order.payment_method,
                transfer_group=workflow.info().workflow_id,
                customer_id=order.customer_id,
            ),
            ChargeOutcome,
            options=CHARGE,
            summary=f"charge {progress.amount(total, order.currency)}",
        )

    async def _confirm(
        self,
        catalog: CatalogSnapshot,
        splits: list[VendorSplit],
        reserved: ReserveResult,
        charge: ChargeOutcome,
    ) -> list[VendorOrderPlan]:
        """The order is confirmed with one plan per vendor (its lines, payout, commission);
        checkout answers with the confirmed order."""
        order = self._order
        commission = {entry.sku: entry.commission_bps for entry in catalog.entries}
        slas = {entry.vendor_id: entry.ship_sla_seconds for entry in catalog.entries}
        acks = {entry.vendor_id: entry.ack for entry in catalog.entries}
        plans = vendor_order_plans(
            order.order_id, splits, reserved.allocations, commission, slas, acks
        )
        self._notifies = {entry.vendor_id: entry.notifies for entry in catalog.entries}
        confirmed = await self._step(
            Activity.CONFIRM_ORDER,
            ConfirmOrderRequest(order_id=order.order_id, charge=charge, vendor_orders=plans),
            ConfirmedOrder,
        )
        self._view = confirmed
        self._status = OrderStatus.CONFIRMED
        self._vendor_status = {
            p.vendor_order_id: VendorOrderStatus.AWAITING_SHIPMENT for p in plans
        }
        self._say_following(plans)
        self._upsert(
            sa.ORDER_STATUS.value_set(self._status), sa.WAITING_SINCE.value_set(workflow.now())
        )
        self._flush_attributes()
        return plans

    async def _start_vendor_orders(self, plans: list[VendorOrderPlan]) -> list[Any]:
        # All at once: one workflow task for all their starts, not one per vendor.
        return list(await asyncio.gather(*(self._start_child(plan) for plan in plans)))

    async def _follow(self, plans: list[VendorOrderPlan], children: list[Any]) -> None:
        # One child failing must not fail this workflow and, through it, its siblings.
        done = asyncio.gather(*children, return_exceptions=True)
        while True:
            await workflow.wait_condition(lambda: self._changed or done.done())
            if done.done():
                for plan, final in zip(plans, done.result(), strict=True):
                    if isinstance(final, BaseException):
                        workflow.logger.error(
                            "vendor order %s failed: %s", plan.vendor_order_id, final
                        )
                        self._upsert(
                            sa.ATTENTION_NEEDED.value_set(AttentionReason.VENDOR_ORDER_FAILED)
                        )
                        continue
                    self._vendor_status[plan.vendor_order_id] = VendorOrderStatus(final)
                await self._apply_status(plans)
                return
            self._changed = False
            await self._apply_status(plans)

    async def _apply_status(self, plans: list[VendorOrderPlan]) -> None:
        self._say_following(plans)
        target = order_status_for(list(self._vendor_status.values()))
        if target == self._status:
            return
        self._status = target
        await self._step(
            Activity.SET_ORDER_STATUS,
            OrderStatusChange(
                order_id=self._order.order_id, status=target, event_type=f"order.{target}"
            ),
        )
        self._upsert(sa.ORDER_STATUS.value_set(target), sa.WAITING_SINCE.value_set(workflow.now()))
