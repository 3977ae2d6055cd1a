"""OrderWorkflow: the saga of one order.

reserve -> price -> charge -> confirm (checkout's update answers here) -> one child
VendorOrderWorkflow per vendor -> completed. A refusal compensates in reverse and fails the
workflow with an ApplicationError whose type is the API's error code.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from temporalio import workflow
from temporalio.common import SearchAttributePair, TypedSearchAttributes, WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from domain.attention import AttentionReason
    from domain.commission import commission_cents
    from domain.errors import DomainError, ErrorCode
    from domain.ids import vendor_order_id, vendor_order_workflow_id
    from domain.money import ensure_chargeable
    from domain.payout import payout_breakdown
    from domain.pricing import CatalogItem, PricedLine, PriceTier, RequestedLine, price_lines
    from domain.splitting import VendorSplit, order_totals, split_by_vendor
    from domain.status import OrderStatus, VendorOrderStatus, order_status_for
    from models import search_attributes as sa
    from models.messages import (
        Allocation,
        CatalogRequest,
        CatalogSnapshot,
        ChargeOutcome,
        ChargeRequest,
        CheckoutRequest,
        CheckoutResult,
        ConfirmOrderRequest,
        CreateOrderRequest,
        OrderInput,
        OrderRef,
        OrderStatusChange,
        OrderTotals,
        PricedLineMsg,
        RejectOrderRequest,
        ReserveRequest,
        ReserveResult,
        SoldLine,
        VendorOrderInput,
        VendorOrderPlan,
        VendorOrderStatusSignal,
    )
    from models.views import OrderPublic
    from temporal.names import Activity, Query, Signal, Update, Workflow
    from workflows.options import (
        CHARGE,
        LOCAL_STEP,
        STEP,
        STEP_FAILED,
        LocalActivityOptions,
    )
    from workflows.refusal import Refusal
    from workflows.vendor_order import VendorOrderWorkflow


# Postage charged at checkout (issue 5); histories from before it replay without.
SHIPPING_PATCH = "shipping-estimates"
# Issue 9: totals beyond the provider's largest charge are refused; an order the store cannot
# record (bad data) is refused instead of retried for ever.
LIMITS_PATCH = "charge-limits"
# Issue 10: the checkout's database steps and its charge run as local activities (one
# marker event each instead of a task round trip and three events), search attributes are
# upserted once per step, children are started with theirs. Older histories replay without.
LEAN_PATCH = "lean-checkout"


@workflow.defn(name=Workflow.ORDER)
class OrderWorkflow:
    @workflow.init
    def __init__(self, order: OrderInput) -> None:
        self._order = order
        self._status = OrderStatus.PENDING
        self._result: CheckoutResult | None = None
        self._refusal: Refusal | None = None
        self._vendor_status: dict[str, VendorOrderStatus] = {}
        self._changed = False
        self._lean = False
        self._buffering = False
        self._view: OrderPublic | None = None
        self._notifies: dict[str, bool] = {}
        self._checks_limits: bool | None = None  # decided the first time it is asked
        # Search attribute changes not sent yet (lean: one upsert per step, not per field).
        self._pending_attributes: dict[str, Any] = {}

    @workflow.run
    async def run(self, order: OrderInput) -> str:
        self._lean = workflow.patched(LEAN_PATCH)
        self._buffering = self._lean
        if not self._lean or sa.CUSTOMER_ID not in workflow.info().typed_search_attributes:
            # The API starts lean runs with it (api/routers/orders.py); any other starter
            # (a script, an older API during a deploy) gets it set here.
            self._upsert(sa.CUSTOMER_ID.value_set(order.customer_id))
        compensations: list[Callable[[], Awaitable[Any]]] = []
        try:
            plans = await self._check_out(compensations)
        except Refusal as refusal:
            for compensate in reversed(compensations):
                await compensate()
            self._refusal = refusal
            self._status = OrderStatus.REJECTED
            self._upsert(sa.ORDER_STATUS.value_set(self._status))
            self._flush_attributes()
            await workflow.wait_condition(workflow.all_handlers_finished)
            raise refusal.application_error() from None
        # Children exist before checkout answers: a vendor may ship the moment it is told.
        children = await self._start_children(plans)
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
        priced, lines = await self._price(catalog)
        splits = await self._record(priced, lines, compensations)
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
            priced = _priced_lines(self._order, catalog)
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
        if self._limits():
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
            refused = Refusal.of_step(error) if self._limits() else None
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
                hold_seconds=order.hold_seconds,
                latitude=order.shipping_address.get("latitude"),
                longitude=order.shipping_address.get("longitude"),
            ),
            ReserveResult,
        )
        if reserved.shipping_cents and (self._lean or workflow.patched(SHIPPING_PATCH)):
            splits = split_by_vendor(priced, reserved.shipping_cents)
            subtotal, shipping, total = order_totals(splits)
            if self._limits():
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
        plans = _plans(order.order_id, splits, reserved.allocations, commission, slas)
        self._notifies = {entry.vendor_id: entry.notifies for entry in catalog.entries}
        confirmed = await self._step(
            Activity.CONFIRM_ORDER,
            ConfirmOrderRequest(order_id=order.order_id, charge=charge, vendor_orders=plans),
            OrderPublic if self._lean else None,
        )
        self._view = confirmed if self._lean else None
        self._status = OrderStatus.CONFIRMED
        self._vendor_status = {
            p.vendor_order_id: VendorOrderStatus.AWAITING_SHIPMENT for p in plans
        }
        self._upsert(
            sa.ORDER_STATUS.value_set(self._status), sa.WAITING_SINCE.value_set(workflow.now())
        )
        self._flush_attributes()
        return plans

    def _limits(self) -> bool:
        """Totals are checked against the provider's largest charge (issue 9)."""
        if self._checks_limits is None:
            self._checks_limits = self._lean or workflow.patched(LIMITS_PATCH)
        return self._checks_limits

    async def _start_children(self, plans: list[VendorOrderPlan]) -> list[Any]:
        starts = [self._start_child(plan) for plan in plans]
        if self._lean:
            # All at once: one workflow task for all their starts, not one per vendor.
            return list(await asyncio.gather(*starts))
        return [await start for start in starts]

    async def _start_child(self, plan: VendorOrderPlan) -> Any:
        order = self._order
        lean: dict[str, Any] = {}
        if self._lean:
            # Its search attributes come with its start (no upsert of its own).
            lean = {
                "search_attributes": TypedSearchAttributes(
                    [
                        SearchAttributePair(sa.VENDOR_ID, plan.vendor_id),
                        SearchAttributePair(
                            sa.ORDER_STATUS, str(VendorOrderStatus.AWAITING_SHIPMENT)
                        ),
                        SearchAttributePair(sa.WAITING_SINCE, workflow.now()),
                    ]
                )
            }
        return await workflow.start_child_workflow(
            VendorOrderWorkflow.run,
            VendorOrderInput(
                order_id=order.order_id,
                vendor_order_id=plan.vendor_order_id,
                vendor_id=plan.vendor_id,
                parent_workflow_id=workflow.info().workflow_id,
                currency=order.currency,
                return_window_seconds=order.return_window_seconds,
                payout_retry_seconds=order.payout_retry_seconds,
                hold_seconds=order.hold_seconds,
                created_at=workflow.now(),
                ship_sla_seconds=plan.ship_sla_seconds,
                auto_cancel_seconds=order.auto_cancel_seconds,
                delivery_overdue_seconds=order.delivery_overdue_seconds,
                return_expires_seconds=order.return_expires_seconds,
                lines=_sold_lines(plan),
                history_limit=order.history_limit,
                attributes_at_start=self._lean,
                # A vendor without a webhook URL gets no notification workflows.
                notify_vendor=self._notifies.get(plan.vendor_id, True),
            ),
            id=plan.workflow_id,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            # Vendors are paid even if an operator terminates the parent by hand.
            parent_close_policy=workflow.ParentClosePolicy.ABANDON,
            **lean,
        )

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
                await self._apply_status()
                return
            self._changed = False
            await self._apply_status()

    async def _apply_status(self) -> None:
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

    async def _create_order(
        self,
        lines: list[PricedLineMsg],
        *,
        totals: tuple[int, int, int] = (0, 0, 0),
        rejection: dict[str, Any] | None = None,
    ) -> dict[str, Any] | None:
        """Record the order; the refusal it already had if this saga recorded it before."""
        return await self._step(  # type: ignore[no-any-return]
            Activity.CREATE_ORDER,
            CreateOrderRequest(
                order=self._order,
                status=OrderStatus.REJECTED if rejection else OrderStatus.PENDING,
                lines=lines,
                subtotal_cents=totals[0],
                shipping_cents=totals[1],
                total_cents=totals[2],
                rejection=rejection,
            ),
        )

    async def _reject(self, refusal: Refusal) -> None:
        await self._step(
            Activity.SET_REJECTION,
            RejectOrderRequest(order_id=self._order.order_id, rejection=refusal.rejection()),
        )

    async def _release(self) -> None:
        await self._step(Activity.RELEASE, OrderRef(order_id=self._order.order_id))

    async def _step(
        self,
        name: str,
        arg: Any,
        result_type: type | None = None,
        *,
        options: LocalActivityOptions = LOCAL_STEP,
    ) -> Any:
        """One step of the saga: a local activity in lean runs (milliseconds of database
        work, idempotent per order), an activity in older ones."""
        if self._lean:
            return await workflow.execute_local_activity(
                name, arg, result_type=result_type, **options
            )
        return await workflow.execute_activity(name, arg, result_type=result_type, **STEP)

    def _upsert(self, *updates: Any) -> None:
        if not self._buffering:
            workflow.upsert_search_attributes(list(updates))
            return
        for update in updates:  # sent together when the checkout ends (_flush_attributes)
            self._pending_attributes[update.key.name] = update

    def _flush_attributes(self) -> None:
        self._buffering = False
        if self._pending_attributes:
            workflow.upsert_search_attributes(list(self._pending_attributes.values()))
            self._pending_attributes = {}


def _priced_lines(order: OrderInput, snapshot: CatalogSnapshot) -> list[PricedLine]:
    catalog = {
        entry.sku: CatalogItem(
            sku=entry.sku,
            vendor_id=entry.vendor_id,
            price_cents=entry.price_cents,
            currency=entry.currency,
            tiers=tuple(PriceTier(q, p) for q, p in entry.tiers),
        )
        for entry in snapshot.entries
    }
    requested = [RequestedLine(line.sku, line.quantity) for line in order.lines]
    return price_lines(requested, catalog, order.currency)


def _plans(
    order_id: str,
    splits: list[VendorSplit],
    allocations: list[Allocation],
    commission_bps: dict[str, int],
    ship_slas: dict[str, float | None],
) -> list[VendorOrderPlan]:
    plans = []
    for split in splits:
        skus = {line.sku for line in split.lines}
        bps = commission_bps[split.lines[0].sku]
        breakdown = payout_breakdown(
            subtotal_cents=split.subtotal_cents,
            shipping_cents=split.shipping_cents,
            commission_bps=bps,
        )
        plans.append(
            VendorOrderPlan(
                vendor_order_id=vendor_order_id(order_id, split.vendor_id),
                vendor_id=split.vendor_id,
                workflow_id=vendor_order_workflow_id(order_id, split.vendor_id),
                subtotal_cents=split.subtotal_cents,
                shipping_cents=split.shipping_cents,
                commission_bps=bps,
                commission_cents=commission_cents(split.subtotal_cents, bps),
                payout_cents=breakdown.payout_cents,
                lines=[a for a in allocations if a.sku in skus],
                unit_prices={line.sku: line.unit_price_cents for line in split.lines},
                ship_sla_seconds=ship_slas.get(split.vendor_id),
            )
        )
    return plans


def _sold_lines(plan: VendorOrderPlan) -> list[SoldLine]:
    units: dict[str, int] = {}
    for allocation in plan.lines:
        units[allocation.sku] = units.get(allocation.sku, 0) + allocation.quantity
    return [
        SoldLine(sku=sku, quantity=count, unit_price_cents=plan.unit_prices[sku])
        for sku, count in sorted(units.items())
    ]
