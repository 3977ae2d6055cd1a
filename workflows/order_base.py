"""What the order saga's steps share: running a step (a local activity), the order store's
writes, starting a vendor order's workflow, search attributes sent once per step, and the
one patch marker runs still record.

workflows/order.py tells the story.
"""

from __future__ import annotations

from typing import Any

from temporalio import workflow
from temporalio.common import SearchAttributePair, TypedSearchAttributes, WorkflowIDReusePolicy

with workflow.unsafe.imports_passed_through():
    from domain import progress
    from domain.splitting import VendorSplit, order_totals
    from domain.status import OrderStatus, VendorOrderStatus
    from models.messages.checkout import (
        CreateOrderRequest,
        OrderInput,
        OrderRef,
        PricedLineMsg,
        RejectOrderRequest,
        VendorOrderPlan,
    )
    from models.messages.vendor_order import VendorOrderInput
    from temporal import search_attributes as sa
    from temporal.names import Activity
    from workflows.options import LOCAL_STEP, LocalActivityOptions
    from workflows.order_plan import sold_lines
    from workflows.refusal import Refusal
    from workflows.vendor_order import VendorOrderWorkflow

# Issue 10's checkout (local activities, one upsert per step, children started with their
# search attributes), which includes every patch before it (postage, charge limits). Retired
# (issue 11): runs started before it can no longer replay, so this version is deployed only
# once none is open (docs/production.md, "Retired patches"). The deprecated marker is still
# recorded at the start of each run so that runs recorded with the live patch replay; the
# call goes once no run without the deprecated marker is open.
LEAN_PATCH = "lean-checkout"


class OrderBase:
    # Set by OrderWorkflow.__init__.
    _order: OrderInput
    _buffering: bool
    _notifies: dict[str, bool]
    _vendor_names: dict[str, str]
    _vendor_status: dict[str, VendorOrderStatus]
    # Search attribute changes not sent yet (lean: one upsert per step, not per field).
    _pending_attributes: dict[str, Any]

    async def _start_child(self, plan: VendorOrderPlan) -> Any:
        order = self._order
        sold = sold_lines(plan)
        vendor_name = self._vendor_names.get(plan.vendor_id, "")
        return await workflow.start_child_workflow(
            VendorOrderWorkflow.run,
            VendorOrderInput(
                order_id=order.order_id,
                vendor_order_id=plan.vendor_order_id,
                vendor_id=plan.vendor_id,
                parent_workflow_id=workflow.info().workflow_id,
                currency=order.currency,
                created_at=workflow.now(),
                timing=order.timing,
                ship_sla_seconds=plan.ship_sla_seconds,
                lines=sold,
                attributes_at_start=True,
                # A vendor without a webhook URL gets no notification workflows.
                notify_vendor=self._notifies.get(plan.vendor_id, True),
                vendor_name=vendor_name,
                ack=plan.ack,
            ),
            id=plan.workflow_id,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            # Vendors are paid even if an operator terminates the parent by hand.
            parent_close_policy=workflow.ParentClosePolicy.ABANDON,
            static_summary=progress.vendor_order_summary(
                vendor_name or plan.vendor_id,
                order.order_id,
                [(line.sku, line.quantity) for line in sold],
                plan.subtotal_cents + plan.shipping_cents,
                order.currency,
            ),
            # Its search attributes come with its start (no upsert of its own).
            search_attributes=TypedSearchAttributes(
                [
                    SearchAttributePair(sa.VENDOR_ID, plan.vendor_id),
                    SearchAttributePair(sa.ORDER_STATUS, str(VendorOrderStatus.AWAITING_SHIPMENT)),
                    SearchAttributePair(sa.WAITING_SINCE, workflow.now()),
                ]
            ),
        )

    def _say_checking_out(self, splits: list[VendorSplit]) -> None:
        vendors = [self._vendor_names.get(s.vendor_id, s.vendor_id) for s in splits]
        total = order_totals(splits)[2]
        workflow.set_current_details(progress.checking_out(total, self._order.currency, vendors))

    def _say_following(self, plans: list[VendorOrderPlan]) -> None:
        """Confirmed: what each vendor order still waits for, as the order hears of it."""
        waiting = [
            f"{self._vendor_names.get(plan.vendor_id, plan.vendor_id)}: "
            + str(self._vendor_status[plan.vendor_order_id]).replace("_", " ")
            for plan in plans
            if self._vendor_status[plan.vendor_order_id]
            not in (VendorOrderStatus.COMPLETED, VendorOrderStatus.CANCELLED)
        ]
        total = sum(plan.subtotal_cents + plan.shipping_cents for plan in plans)
        workflow.set_current_details(progress.following(total, self._order.currency, waiting))

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
        summary: str | None = None,
    ) -> Any:
        """One step of the saga: a local activity (milliseconds of database work, idempotent
        per order)."""
        return await workflow.execute_local_activity(
            name, arg, result_type=result_type, summary=summary, **options
        )

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
