"""VendorOrderWorkflow: one vendor's part of an order, from shipment to payout.

awaiting_shipment -(ship update)-> shipped -(deliver update / tracking)-> delivered
-(return window timer; open returns settled)-> payout transfer -> completed;
or awaiting_shipment -(cancel update, or the ship SLA's auto-cancel)-> cancelled.

Service levels are durable timers: the vendor's ship SLA (attention, reminder, then
auto-cancel after a grace period) and the delivery overdue timer. The timers, cancellation,
returns, labels and notifications came with PATCH: histories from before it replay the old path.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError, FailureError

with workflow.unsafe.imports_passed_through():
    from domain.attention import DELIVERY_REASONS, SHIPPING_REASONS, AttentionReason
    from domain.errors import ErrorCode
    from domain.status import VendorOrderStatus
    from models import search_attributes as sa
    from models.messages import (
        AttentionChange,
        CancellationRecord,
        CancelRequest,
        DeliveryRecord,
        DisputeSignal,
        ExternalRefund,
        LabelRequest,
        LabelResult,
        ReceiveRequest,
        RefundCommand,
        RefundOutcome,
        RenewRequest,
        ReturnRequest,
        ReturnState,
        ShipmentRecord,
        ShipRequest,
        TrackingProblem,
        TrackRequest,
        VendorNotification,
        VendorOrderInput,
        VendorOrderRef,
        VendorOrderResume,
        VendorOrderState,
        VendorOrderStatusSignal,
    )
    from temporal.names import Activity, Query, Signal, Update, Workflow
    from workflows.money import PATCH as MONEY_PATCH
    from workflows.money import MoneyDesk
    from workflows.notification import notify_vendor
    from workflows.options import LABEL, STEP, TRACKING
    from workflows.returns import EXPIRY_PATCH, ReturnDesk

PATCH = "sla-cancel-returns"
# Issue 9: a cancellation refunds before it frees the stock, a failed auto-cancel is flagged
# instead of failing the workflow, and a dispute closed before it was opened stays closed.
HARDENING = "cancel-refund-first"
# Issue 10: one patch in place of all the above (each patch costs a marker and a search
# attribute event); its runs also take their search attributes from their start and start
# no notification workflow for a vendor without a webhook URL.
LEAN = "lean-vendor-order"
# What lean runs include. Nothing may be added here once lean histories exist.
BEFORE_LEAN = frozenset({"renew-reservations", PATCH, HARDENING, MONEY_PATCH, EXPIRY_PATCH})


@workflow.defn(name=Workflow.VENDOR_ORDER)
class VendorOrderWorkflow:
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
        self._lean: bool | None = None  # decided the first time a patch is asked about
        self._money = MoneyDesk(
            data.order_id,
            data.vendor_order_id,
            self._set_attention,
            retry_after=timedelta(seconds=data.payout_retry_seconds),
            patched=self._patched,
        )
        self._returns = ReturnDesk(
            data.order_id, data.vendor_order_id, data.lines, self._money, patched=self._patched
        )
        self._closed_disputes: set[str] = set()
        self._registered_delivered = False
        self._breached = False
        self._next_renewal: datetime | None = None
        if data.resume is not None:
            self._restore(data.resume)

    @workflow.run
    async def run(self, data: VendorOrderInput) -> str:
        """The vendor ships (or the order is cancelled), the parcel is delivered, the return
        window runs out, the vendor is paid. A run continued as new resumes where it was."""
        resumed = data.resume
        if resumed is None:
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
        if not (self._is_lean() and data.attributes_at_start):
            self._upsert(
                sa.VENDOR_ID.value_set(data.vendor_id),
                sa.ORDER_STATUS.value_set(self._status),
                sa.WAITING_SINCE.value_set(workflow.now()),
            )

    async def _ship_or_cancel(self, resumed: bool) -> None:
        """Tell the vendor, then wait for its shipment under the ship SLA, keeping the stock
        held. Ends shipped or cancelled (by the buyer, ops, or the SLA's auto-cancel)."""
        if resumed:
            await self._await_shipment()
        elif self._patched("renew-reservations"):
            if self._patched(PATCH):
                await self._notify("vendor_order.created", {"lines": self._sold()})
                await self._await_shipment()
            else:
                await self._hold_stock_until_shipped()
        # The oldest runs simply waited for the ship update (in _await_delivery).

    async def _await_delivery(self) -> None:
        """Until delivered (vendor, carrier webhook or ops); flagged when overdue."""
        if self._patched(PATCH):
            await self._delivered_or_flagged_overdue()
        await workflow.wait_condition(lambda: self._status == VendorOrderStatus.DELIVERED)

    async def _hold_return_window(self) -> None:
        """The buyer may open returns until the window ends; open ones are settled (received
        or expired) before the vendor is paid."""
        assert self._window_ends is not None
        remaining = self._window_ends - workflow.now()
        if remaining > timedelta(0):
            await workflow.sleep(remaining)
        if self._patched(PATCH):
            expires = self._input.return_expires_seconds
            await self._returns.settle(None if expires is None else timedelta(seconds=expires))

    async def _pay(self) -> None:
        """Transfer the vendor's share, net of refunds; an open dispute holds it."""
        if self._open_disputes:
            # A disputed charge may be taken back: its unpaid payouts wait for the outcome.
            await workflow.wait_condition(lambda: not self._open_disputes)
        await self._money.pay(hold=self._no_open_dispute, between=self._renew_history_if_long)

    async def _closed(self) -> str:
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._status

    async def _hold_stock_until_shipped(self) -> None:
        """Reservations expire unless renewed: while this workflow waits for the vendor, it
        renews them, so only a workflow that is gone (terminated by hand) loses its stock."""
        every = timedelta(seconds=self._input.hold_seconds / 2)
        while self._status == VendorOrderStatus.AWAITING_SHIPMENT:
            try:
                await workflow.wait_condition(
                    lambda: self._status != VendorOrderStatus.AWAITING_SHIPMENT, timeout=every
                )
            except TimeoutError:
                await self._renew_hold()

    async def _renew_hold(self) -> None:
        data = self._input
        renew = RenewRequest(
            order_id=data.order_id,
            vendor_order_id=data.vendor_order_id,
            hold_seconds=data.hold_seconds,
        )
        await workflow.execute_activity(Activity.RENEW_HOLD, renew, **STEP)

    @workflow.update(name=Update.SHIP)
    async def ship(self, request: ShipRequest) -> VendorOrderState:
        self._require(VendorOrderStatus.AWAITING_SHIPMENT, "shipped")
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
            if self._attention in SHIPPING_REASONS:
                await self._set_attention(None)
            if not request.purchase_label and self._patched(PATCH):
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
        self._require(VendorOrderStatus.AWAITING_SHIPMENT, "shipped")

    @workflow.update(name=Update.DELIVER)
    async def deliver(self) -> VendorOrderState:
        self._require(VendorOrderStatus.SHIPPED, "delivered")
        await self._deliver()
        return self.state()

    async def _deliver(self) -> None:
        async with self._changing:
            now = workflow.now()
            ends = now + timedelta(seconds=self._input.return_window_seconds)
            await workflow.execute_activity(
                Activity.RECORD_DELIVERY,
                DeliveryRecord(
                    vendor_order_id=self._input.vendor_order_id,
                    order_id=self._input.order_id,
                    delivered_at=now,
                    return_window_ends_at=ends,
                ),
                **STEP,
            )
            self._window_ends = ends
            await self._moved_to(VendorOrderStatus.DELIVERED)
            if self._attention in DELIVERY_REASONS:
                await self._set_attention(None)

    @deliver.validator
    def _can_deliver(self) -> None:
        self._require(VendorOrderStatus.SHIPPED, "delivered")

    @workflow.update(name=Update.CANCEL)
    async def cancel(self, request: CancelRequest) -> VendorOrderState:
        """Cancel before shipping: stock released, the buyer refunded, the vendor told.
        Racing a ship, exactly one wins: whichever handler starts first holds `_changing`."""
        self._require(VendorOrderStatus.AWAITING_SHIPMENT, "cancelled")
        await self._cancel(request)
        return self.state()

    @cancel.validator
    def _can_cancel(self, request: CancelRequest) -> None:
        self._require(VendorOrderStatus.AWAITING_SHIPMENT, "cancelled")

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
        elif change.dispute_id in self._closed_disputes and self._patched(HARDENING):
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

    async def _await_shipment(self) -> None:
        """Wait for the vendor, renewing the stock's hold; past the ship SLA flag and remind,
        and past the grace period after it cancel."""
        data = self._input
        renew_every = timedelta(seconds=data.hold_seconds / 2)
        if self._next_renewal is None:
            self._next_renewal = workflow.now() + renew_every
        breach_at = cancel_at = None
        if data.ship_sla_seconds is not None:
            breach_at = data.created_at + timedelta(seconds=data.ship_sla_seconds)
            if data.auto_cancel_seconds is not None:
                cancel_at = breach_at + timedelta(seconds=data.auto_cancel_seconds)
        while self._status == VendorOrderStatus.AWAITING_SHIPMENT:
            due = [self._next_renewal]
            if breach_at is not None and not self._breached:
                due.append(breach_at)
            if cancel_at is not None and self._breached and not self._changing.locked():
                due.append(cancel_at)
            wait = max(min(due) - workflow.now(), timedelta(milliseconds=1))
            busy = self._changing.locked()
            try:
                await workflow.wait_condition(
                    lambda b=busy: (  # type: ignore[misc]
                        self._status != VendorOrderStatus.AWAITING_SHIPMENT
                        or self._changing.locked() != b
                    ),
                    timeout=wait,
                )
                continue
            except TimeoutError:
                pass
            now = workflow.now()
            if now >= self._next_renewal:
                await self._renew_hold()
                self._next_renewal = workflow.now() + renew_every
            if self._status != VendorOrderStatus.AWAITING_SHIPMENT:
                return
            if breach_at is not None and not self._breached and now >= breach_at:
                self._breached = True
                await self._set_attention(AttentionReason.SHIP_SLA_BREACHED)
                await self._notify(
                    "vendor_order.ship_reminder",
                    {"ship_by": breach_at.isoformat(), "cancels_at": _iso(cancel_at)},
                )
            elif (
                cancel_at is not None
                and self._breached
                and now >= cancel_at
                and not self._changing.locked()
            ):
                if not await self._auto_cancel():
                    cancel_at = None  # flagged for a person; the vendor may still ship
            if self._status == VendorOrderStatus.AWAITING_SHIPMENT:
                await self._renew_history_if_long("awaiting_shipment")

    async def _auto_cancel(self) -> bool:
        """The SLA's cancellation; a refusal (the refund refused) is flagged for operators
        instead of failing the workflow, and the stock stays held for the vendor order."""
        if not self._patched(HARDENING):
            await self._cancel(CancelRequest(reason="ship_sla_expired", by="system"))
            return True
        try:
            await self._cancel(CancelRequest(reason="ship_sla_expired", by="system"))
        except ActivityError:
            workflow.logger.warning("auto-cancel of %s failed", self._input.vendor_order_id)
            await self._set_attention(AttentionReason.AUTO_CANCEL_FAILED)
            return False
        return True

    async def _no_open_dispute(self) -> None:
        if self._open_disputes:
            await workflow.wait_condition(lambda: not self._open_disputes)

    async def _renew_history_if_long(self, phase: str = "payout") -> None:
        """Continue as new when the history grows long (a wait of months), carrying what
        this run knows. Only between steps, with no handler at work."""
        info = workflow.info()
        full = info.get_current_history_length() >= self._input.history_limit
        if not (full or info.is_continue_as_new_suggested()):
            return
        if self._changing.locked() or not workflow.all_handlers_finished():
            return  # next time round: an update at work must finish in this run
        money = self._money
        workflow.continue_as_new(
            self._input.model_copy(
                update={
                    "resume": VendorOrderResume(
                        phase=phase,
                        status=self._status,
                        attention=self._attention,
                        breached=self._breached,
                        next_renewal=self._next_renewal,
                        open_disputes=sorted(self._open_disputes),
                        closed_disputes=sorted(self._closed_disputes),
                        payout_attempt=money.attempt,
                        payout_wait_seconds=money.wait.total_seconds() if money.wait else None,
                        payout_failures=money.failures,
                        payout_flagged=money.flagged,
                        reversal_steps=money.steps,
                    )
                }
            )
        )

    def _restore(self, resume: VendorOrderResume) -> None:
        self._status = VendorOrderStatus(resume.status)
        self._attention = resume.attention
        self._breached = resume.breached
        self._next_renewal = resume.next_renewal
        self._open_disputes = set(resume.open_disputes)
        self._closed_disputes = set(resume.closed_disputes)
        wait = resume.payout_wait_seconds
        self._money.restore(
            attempt=resume.payout_attempt,
            failures=resume.payout_failures,
            flagged=resume.payout_flagged,
            wait=None if wait is None else timedelta(seconds=wait),
            steps=resume.reversal_steps,
        )

    async def _delivered_or_flagged_overdue(self) -> None:
        overdue = self._input.delivery_overdue_seconds
        arrived = lambda: self._status == VendorOrderStatus.DELIVERED or self._carrier_delivered()  # noqa: E731
        try:
            await workflow.wait_condition(
                arrived, timeout=None if overdue is None else timedelta(seconds=overdue)
            )
        except TimeoutError:
            if self._attention is None:
                await self._set_attention(AttentionReason.DELIVERY_OVERDUE)
            await workflow.wait_condition(arrived)
        if self._carrier_delivered():
            await self._deliver()

    def _carrier_delivered(self) -> bool:
        """The carrier said DELIVERED when the parcel was registered (its webhook came before
        the parcel was ours to know, and was dropped): deliver it now, once ship is done."""
        return (
            self._registered_delivered
            and self._status == VendorOrderStatus.SHIPPED
            and not self._changing.locked()
        )

    async def _cancel(self, request: CancelRequest) -> None:
        async with self._changing:
            data = self._input
            ref = VendorOrderRef(vendor_order_id=data.vendor_order_id, order_id=data.order_id)
            refund = RefundCommand(
                order_id=data.order_id,
                vendor_order_id=data.vendor_order_id,
                refund_key="cancel",
                amount_cents=0,
                remaining=True,
                reason="requested_by_customer",
            )
            if self._patched(HARDENING):
                # Refund first: a refused refund leaves the order as it was, stock still held
                # (freeing it first sold the units again while the vendor could still ship).
                outcome = await self._money.refund(refund)
                await workflow.execute_activity(Activity.RELEASE_VENDOR_ORDER, ref, **STEP)
            else:
                await workflow.execute_activity(Activity.RELEASE_VENDOR_ORDER, ref, **STEP)
                outcome = await self._money.refund(refund)
            await workflow.execute_activity(
                Activity.RECORD_CANCELLATION,
                CancellationRecord(
                    vendor_order_id=data.vendor_order_id,
                    order_id=data.order_id,
                    reason=request.reason,
                    by=request.by,
                    cancelled_at=workflow.now(),
                    refunded_cents=outcome.amount_cents,
                ),
                **STEP,
            )
            await self._moved_to(VendorOrderStatus.CANCELLED)
            if self._attention in SHIPPING_REASONS:
                await self._set_attention(None)
            await self._notify(
                "vendor_order.cancelled", {"reason": request.reason, "by": request.by}
            )

    async def _follow_parcel(self, carrier: str, tracking_number: str) -> None:
        """Ask Shippo to report this parcel's tracking. Never blocks shipping: without it the
        vendor (or an operator) marks delivery."""
        try:
            status = await workflow.execute_activity(
                Activity.TRACK_PARCEL,
                TrackRequest(
                    vendor_order_id=self._input.vendor_order_id,
                    carrier=carrier,
                    tracking_number=tracking_number,
                ),
                result_type=str,
                **TRACKING,
            )
            if status == "DELIVERED" and self._patched(HARDENING):
                self._registered_delivered = True
        except ActivityError:
            workflow.logger.warning("tracking not registered for %s", tracking_number)

    async def _notify(self, kind: str, data: dict[str, Any], *, key: str = "") -> None:
        if not self._input.notify_vendor and self._is_lean():
            return  # no webhook URL at checkout: no workflow to find that out each time
        vo = self._input.vendor_order_id
        await notify_vendor(
            VendorNotification(
                event_id=f"{vo}.{kind}{'.' + key if key else ''}",
                vendor_id=self._input.vendor_id,
                type=kind,
                created_at=workflow.now(),
                vendor_order_id=vo,
                data={"order_id": self._input.order_id, **data},
            )
        )

    def _sold(self) -> list[dict[str, Any]]:
        return [line.model_dump() for line in self._input.lines]

    @workflow.query(name=Query.VENDOR_ORDER_STATE)
    def state(self) -> VendorOrderState:
        return VendorOrderState(vendor_order_id=self._input.vendor_order_id, status=self._status)

    def _require(self, status: VendorOrderStatus, target: str) -> None:
        if self._changing.locked() or self._status != status:
            raise ApplicationError(
                f"vendor order is {self._status}; it cannot be {target} now",
                {"current_status": str(self._status)},
                type=ErrorCode.INVALID_STATE,
            )

    async def _moved_to(self, status: VendorOrderStatus) -> None:
        self._status = status
        self._upsert(sa.ORDER_STATUS.value_set(status), sa.WAITING_SINCE.value_set(workflow.now()))
        parent = workflow.get_external_workflow_handle(self._input.parent_workflow_id)
        try:
            await parent.signal(
                Signal.VENDOR_ORDER_CHANGED,
                VendorOrderStatusSignal(
                    vendor_order_id=self._input.vendor_order_id,
                    vendor_id=self._input.vendor_id,
                    status=status,
                ),
            )
        except FailureError:
            # The order's workflow was closed by hand (terminated): this vendor order goes on
            # (it was started to be abandoned), and the database already says where it is.
            workflow.logger.warning(
                "order workflow gone; %s is %s", self._input.vendor_order_id, status
            )

    async def _set_attention(self, attention: str | None) -> None:
        self._attention = attention
        await workflow.execute_activity(
            Activity.SET_ATTENTION,
            AttentionChange(vendor_order_id=self._input.vendor_order_id, attention=attention),
            **STEP,
        )
        if attention is None:
            self._upsert(sa.ATTENTION_NEEDED.value_unset())
        else:
            self._upsert(
                sa.ATTENTION_NEEDED.value_set(attention), sa.WAITING_SINCE.value_set(workflow.now())
            )

    def _upsert(self, *updates: Any) -> None:
        workflow.upsert_search_attributes(list(updates))

    def _is_lean(self) -> bool:
        if self._lean is None:
            self._lean = workflow.patched(LEAN)
        return self._lean

    def _patched(self, patch_id: str) -> bool:
        """A patch that came before LEAN: applied in every lean run without its own marker.
        A later patch must call `workflow.patched` itself, in lean runs too (lean runs
        recorded before it exists took the old path)."""
        if patch_id not in BEFORE_LEAN:
            raise ValueError(f"{patch_id} is not one of the patches lean runs include")
        return True if self._is_lean() else workflow.patched(patch_id)


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()
