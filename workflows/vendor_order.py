"""VendorOrderWorkflow: one vendor's part of an order, from shipment to payout.

awaiting_shipment -(ship update)-> shipped -(deliver update / tracking)-> delivered
-(return window timer; open returns settled)-> payout transfer -> completed;
or awaiting_shipment -(cancel update, or the ship SLA's auto-cancel)-> cancelled.

Service levels are durable timers: the vendor's ship SLA (attention, reminder, then
auto-cancel after a grace period) and the delivery overdue timer.

Here the story: run(), updates, signals. Waiting for the shipment and the delivery:
workflows/shipment.py; the supplier accepting or rejecting first: workflows/supplier.py;
state and the recording of each change: workflows/vendor_order_base.py.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from domain import progress
    from domain.attention import SHIPPING_REASONS, AttentionReason
    from domain.errors import ErrorCode
    from domain.status import VendorOrderStatus
    from models.messages.money import DisputeSignal, ExternalRefund, RefundCommand, RefundOutcome
    from models.messages.returns import ReceiveRequest, ReturnRequest, ReturnState
    from models.messages.shipping import (
        LabelRequest,
        LabelResult,
        ShipmentRecord,
        ShipRequest,
        TrackingProblem,
    )
    from models.messages.vendor_order import (
        CancelRequest,
        VendorOrderInput,
        VendorOrderRef,
        VendorOrderState,
    )
    from temporal import search_attributes as sa
    from temporal.names import Activity, Query, Signal, Update, Workflow
    from workflows.money import MoneyDesk
    from workflows.options import LABEL, STEP
    from workflows.returns import ReturnDesk
    from workflows.supplier import SupplierAnswers


@workflow.defn(name=Workflow.VENDOR_ORDER)
class VendorOrderWorkflow(SupplierAnswers):
    @workflow.init
    def __init__(self, data: VendorOrderInput) -> None:
        self._input = data
        self._status = VendorOrderStatus.AWAITING_SHIPMENT
        # Held while a change's activities run (ship, deliver, cancel): a second one racing
        # the first must lose cleanly instead of both passing the status check.
        self._changing = asyncio.Lock()
        self._window_ends: datetime | None = None
        self._attention: str | None = None
        self._open_disputes: set[str] = set()
        self._marked = False
        self._money = MoneyDesk(
            data.order_id,
            data.vendor_order_id,
            self._set_attention,
            retry_after=timedelta(seconds=data.timing.payout_retry_seconds),
            mark=self._mark_lean,
            refused=lambda reason, attempt, next_try: self._say(
                progress.payout_refused(self._vendor, reason, attempt, next_try)
            ),
        )
        self._returns = ReturnDesk(
            data.order_id, data.vendor_order_id, data.lines, self._money, mark=self._mark_lean
        )
        self._closed_disputes: set[str] = set()
        self._registered_delivered = False
        self._breached = False
        self._next_renewal: datetime | None = None
        self._ack_due_at = (
            None if data.ack is None else data.created_at + timedelta(seconds=data.ack.sla_seconds)
        )
        self._ack_flagged = False
        self._supplier_ref: str | None = None
        self._rejections = 0
        if data.resume is not None:
            self._restore(data.resume)

    @workflow.run
    async def run(self, data: VendorOrderInput) -> str:
        """The vendor ships (or the order is cancelled), the parcel is delivered, the return
        window runs out, the vendor is paid. A run continued as new resumes where it was."""
        resumed = data.resume
        if resumed is None:
            self._mark_lean()
            self._set_attributes_unless_given_at_start()
        if resumed is None or resumed.phase == "awaiting_shipment":
            await self._ship_or_cancel(resumed is not None)
            if self._status == VendorOrderStatus.CANCELLED:
                return await self._closed()
            await self._await_delivery()
            await self._hold_return_window()
        await self._pay()
        ref = VendorOrderRef(vendor_order_id=data.vendor_order_id, order_id=data.order_id)
        await workflow.execute_activity(Activity.RECORD_COMPLETION, ref, **STEP)
        await self._moved_to(VendorOrderStatus.COMPLETED)
        return await self._closed()

    def _set_attributes_unless_given_at_start(self) -> None:
        data = self._input
        if not data.attributes_at_start:
            self._upsert(
                sa.VENDOR_ID.value_set(data.vendor_id),
                sa.ORDER_STATUS.value_set(self._status),
                sa.WAITING_SINCE.value_set(workflow.now()),
            )

    async def _ship_or_cancel(self, resumed: bool) -> None:
        """Tell the vendor, then wait for its shipment under the ship SLA, keeping the stock
        held. Ends shipped or cancelled (by the buyer, ops, or the SLA's auto-cancel)."""
        self._say_waiting_to_ship()
        if not resumed:
            due = self._ack_due_at  # a supplier that answers by webhook learns by when
            await self._notify(
                "vendor_order.created",
                {"lines": self._sold(), **({"accept_by": due.isoformat()} if due else {})},
            )
        await self._await_shipment()

    async def _await_delivery(self) -> None:
        """Until delivered (vendor, carrier webhook or ops); flagged when overdue."""
        self._mark_lean()
        await self._delivered_or_flagged_overdue()
        await workflow.wait_condition(lambda: self._status == VendorOrderStatus.DELIVERED)

    async def _hold_return_window(self) -> None:
        """The buyer may open returns until the window ends; open ones are settled (received
        or expired) before the vendor is paid."""
        assert self._window_ends is not None
        remaining = self._window_ends - workflow.now()
        if remaining > timedelta(0):
            await workflow.sleep(remaining, summary="return window")
        self._mark_lean()
        expires = self._input.timing.return_expires_seconds
        expire_after = None if expires is None else timedelta(seconds=expires)
        if self._returns.open:
            self._say(
                progress.returns_open(
                    self._returns.open_count,
                    None if expire_after is None else workflow.now() + expire_after,
                )
            )
        await self._returns.settle(expire_after)

    async def _pay(self) -> None:
        """Transfer the vendor's share, net of refunds; an open dispute holds it."""
        if self._open_disputes:
            # A disputed charge may be taken back: its unpaid payouts wait for the outcome.
            self._say(progress.disputed(len(self._open_disputes)))
            await workflow.wait_condition(lambda: not self._open_disputes)
        self._say(progress.paying(self._vendor))
        await self._money.pay(hold=self._no_open_dispute, between=self._renew_history_if_long)
        self._say(progress.paid(self._vendor, self._money.paid_cents, self._input.currency))

    async def _closed(self) -> str:
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._status

    @workflow.update(name=Update.SHIP)
    async def ship(self, request: ShipRequest) -> VendorOrderState:
        self._require(VendorOrderStatus.SHIPPED)
        async with self._changing:
            ref = VendorOrderRef(
                vendor_order_id=self._input.vendor_order_id, order_id=self._input.order_id
            )
            carrier, tracking, label_url = request.carrier, request.tracking_number, None
            if request.purchase_label:
                assert request.parcel is not None
                label = await workflow.execute_activity(
                    Activity.BUY_LABEL,
                    LabelRequest(
                        order_id=ref.order_id,
                        vendor_order_id=ref.vendor_order_id,
                        parcel=request.parcel,
                    ),
                    result_type=LabelResult,
                    summary="buy a shipping label",
                    **LABEL,
                )
                carrier, tracking, label_url = label.carrier, label.tracking_number, label.label_url
            await workflow.execute_activity(Activity.COMMIT_VENDOR_ORDER, ref, **STEP)
            await workflow.execute_activity(
                Activity.RECORD_SHIPMENT,
                ShipmentRecord(
                    vendor_order_id=ref.vendor_order_id,
                    order_id=ref.order_id,
                    carrier=carrier,
                    tracking_number=tracking,
                    shipped_at=workflow.now(),
                    label_url=label_url,
                ),
                **STEP,
            )
            await self._moved_to(VendorOrderStatus.SHIPPED)
            self._ack_due_at = None  # a shipment answers for the supplier too
            overdue = self._input.timing.delivery_overdue_seconds
            self._say(
                progress.in_transit(
                    carrier,
                    tracking,
                    None if overdue is None else workflow.now() + timedelta(seconds=overdue),
                )
            )
            if self._attention in SHIPPING_REASONS:
                await self._set_attention(None)
            if not request.purchase_label:
                self._mark_lean()
                await self._follow_parcel(carrier, tracking)
        return self.state()

    @ship.validator
    def _can_ship(self, request: ShipRequest) -> None:
        if request.purchase_label:
            if request.parcel is None:
                raise ApplicationError(
                    "a parcel is required to buy a label", type=ErrorCode.VALIDATION_ERROR
                )
        elif not request.carrier.strip() or not request.tracking_number.strip():
            raise ApplicationError(
                "carrier and tracking_number are required", type=ErrorCode.VALIDATION_ERROR
            )
        self._require(VendorOrderStatus.SHIPPED)

    @workflow.update(name=Update.DELIVER)
    async def deliver(self) -> VendorOrderState:
        self._require(VendorOrderStatus.DELIVERED)
        await self._deliver()
        return self.state()

    @deliver.validator
    def _can_deliver(self) -> None:
        self._require(VendorOrderStatus.DELIVERED)

    @workflow.update(name=Update.CANCEL)
    async def cancel(self, request: CancelRequest) -> VendorOrderState:
        """Cancel before shipping: stock released, the buyer refunded, the vendor told.
        Racing a ship, exactly one wins: whichever handler starts first holds `_changing`."""
        self._require(VendorOrderStatus.CANCELLED)
        await self._cancel(request)
        return self.state()

    @cancel.validator
    def _can_cancel(self, request: CancelRequest) -> None:
        self._require(VendorOrderStatus.CANCELLED)

    @workflow.update(name=Update.OPEN_RETURN)
    async def open_return(self, request: ReturnRequest) -> ReturnState:
        state = await self._returns.open_return(request, self._window_ends)
        await self._notify(
            "return.requested",
            {
                "return_id": request.return_id,
                "lines": [line.model_dump() for line in request.lines],
                "reason": request.reason,
                "refund_cents": state.refund_cents,
            },
            key=request.return_id,
        )
        return state

    @open_return.validator
    def _can_open_return(self, request: ReturnRequest) -> None:
        self._returns.check_open(request, self._window_ends)

    @workflow.update(name=Update.RECEIVE_RETURN)
    async def receive_return(self, request: ReceiveRequest) -> ReturnState:
        return await self._returns.receive(request)

    @receive_return.validator
    def _can_receive_return(self, request: ReceiveRequest) -> None:
        self._returns.check_receive(request)

    @workflow.signal(name=Signal.TRACKING_PROBLEM)
    async def tracking_problem(self, problem: TrackingProblem) -> None:
        """The carrier reports a failed or returning parcel: an operator must look."""
        if self._status != VendorOrderStatus.SHIPPED:
            return
        attention = (
            AttentionReason.PARCEL_RETURNED
            if problem.parcel_returned
            else AttentionReason.DELIVERY_FAILED
        )
        if self._attention != attention:
            self._say(progress.delivery_needs_a_look(attention, workflow.now()))
            await self._set_attention(attention)

    @workflow.update(name=Update.REFUND)
    async def refund(self, command: RefundCommand) -> RefundOutcome:
        """Give money back to the buyer (cancellations, returns, ops); after the payout the
        vendor's share is reversed."""
        return await self._money.refund(command)

    @refund.validator
    def _can_refund(self, command: RefundCommand) -> None:
        if command.amount_cents < 1:
            raise ApplicationError("a refund is at least one cent", type=ErrorCode.VALIDATION_ERROR)

    @workflow.signal(name=Signal.EXTERNAL_REFUND)
    async def external_refund(self, refund: ExternalRefund) -> None:
        await self._money.external_refund(refund)

    @workflow.signal(name=Signal.DISPUTE)
    async def dispute(self, change: DisputeSignal) -> None:
        if change.closed:
            self._open_disputes.discard(change.dispute_id)
            self._closed_disputes.add(change.dispute_id)
        elif change.dispute_id in self._closed_disputes:
            self._mark_lean()
            return  # an older event arriving late: a closed dispute never opens again
        else:
            self._open_disputes.add(change.dispute_id)
        if self._money.paid:
            return
        if self._open_disputes:
            await self._set_attention(AttentionReason.DISPUTE)
        elif self._attention == AttentionReason.DISPUTE:
            await self._set_attention(None)

    @workflow.signal(name=Signal.RETRY_PAYOUT)
    def retry_payout(self) -> None:
        """Operators fixed the cause of a failed payout: try again now, not after the backoff."""
        self._money.retry_requested = True

    @workflow.query(name=Query.VENDOR_ORDER_STATE)
    def state(self) -> VendorOrderState:
        return self._state_now()
