"""VendorOrderWorkflow: one vendor's part of an order, from shipment to payout.

awaiting_shipment -(ship update)-> shipped -(deliver update / tracking)-> delivered
-(return window timer)-> payout transfer -> completed.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from domain.status import VendorOrderStatus
    from models import search_attributes as sa
    from models.messages import (
        AttentionChange,
        DeliveryRecord,
        DisputeSignal,
        ExternalRefund,
        RefundCommand,
        RefundOutcome,
        RenewRequest,
        ShipmentRecord,
        ShipRequest,
        VendorOrderInput,
        VendorOrderRef,
        VendorOrderState,
        VendorOrderStatusSignal,
    )
    from workflows.money import MoneyDesk
    from workflows.options import STEP


@workflow.defn(name="VendorOrderWorkflow")
class VendorOrderWorkflow:
    @workflow.init
    def __init__(self, data: VendorOrderInput) -> None:
        self._input = data
        self._status = VendorOrderStatus.AWAITING_SHIPMENT
        # Set while an update's activities run: a second ship or deliver racing the first
        # must lose cleanly instead of both passing the status check.
        self._busy = False
        self._window_ends: datetime | None = None
        self._attention: str | None = None
        self._open_disputes: set[str] = set()
        self._money = MoneyDesk(
            data.order_id,
            data.vendor_order_id,
            self._set_attention,
            retry_after=timedelta(seconds=data.payout_retry_seconds),
        )

    @workflow.run
    async def run(self, data: VendorOrderInput) -> str:
        self._upsert(
            sa.VENDOR_ID.value_set(data.vendor_id),
            sa.ORDER_STATUS.value_set(self._status),
            sa.WAITING_SINCE.value_set(workflow.now()),
        )
        if workflow.patched("renew-reservations"):
            await self._hold_stock_until_shipped()
        await workflow.wait_condition(lambda: self._status == VendorOrderStatus.DELIVERED)
        assert self._window_ends is not None
        remaining = self._window_ends - workflow.now()
        if remaining > timedelta(0):
            await workflow.sleep(remaining)
        if self._open_disputes:
            # A disputed charge may be taken back: its unpaid payouts wait for the outcome.
            await workflow.wait_condition(lambda: not self._open_disputes)
        await self._money.pay()
        ref = VendorOrderRef(vendor_order_id=data.vendor_order_id, order_id=data.order_id)
        await workflow.execute_activity("orders.record_completion", ref, **STEP)
        await self._moved_to(VendorOrderStatus.COMPLETED)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._status

    async def _hold_stock_until_shipped(self) -> None:
        """Reservations expire unless renewed: while this workflow waits for the vendor, it
        renews them, so only a workflow that is gone (terminated by hand) loses its stock."""
        every = timedelta(seconds=self._input.hold_seconds / 2)
        renew = RenewRequest(
            order_id=self._input.order_id,
            vendor_order_id=self._input.vendor_order_id,
            hold_seconds=self._input.hold_seconds,
        )
        while self._status == VendorOrderStatus.AWAITING_SHIPMENT:
            try:
                await workflow.wait_condition(
                    lambda: self._status != VendorOrderStatus.AWAITING_SHIPMENT, timeout=every
                )
            except TimeoutError:
                await workflow.execute_activity("inventory.renew", renew, **STEP)

    @workflow.update(name="ship")
    async def ship(self, request: ShipRequest) -> VendorOrderState:
        self._require(VendorOrderStatus.AWAITING_SHIPMENT, "shipped")
        self._busy = True
        try:
            ref = VendorOrderRef(
                vendor_order_id=self._input.vendor_order_id, order_id=self._input.order_id
            )
            await workflow.execute_activity("inventory.commit_vendor_order", ref, **STEP)
            await workflow.execute_activity(
                "orders.record_shipment",
                ShipmentRecord(
                    vendor_order_id=ref.vendor_order_id,
                    order_id=ref.order_id,
                    carrier=request.carrier,
                    tracking_number=request.tracking_number,
                    shipped_at=workflow.now(),
                ),
                **STEP,
            )
            await self._moved_to(VendorOrderStatus.SHIPPED)
        finally:
            self._busy = False
        return self.state()

    @ship.validator
    def _can_ship(self, request: ShipRequest) -> None:
        if not request.carrier.strip() or not request.tracking_number.strip():
            raise ApplicationError(
                "carrier and tracking_number are required", type="validation_error"
            )
        self._require(VendorOrderStatus.AWAITING_SHIPMENT, "shipped")

    @workflow.update(name="deliver")
    async def deliver(self) -> VendorOrderState:
        self._require(VendorOrderStatus.SHIPPED, "delivered")
        self._busy = True
        try:
            now = workflow.now()
            ends = now + timedelta(seconds=self._input.return_window_seconds)
            await workflow.execute_activity(
                "orders.record_delivery",
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
        finally:
            self._busy = False
        return self.state()

    @deliver.validator
    def _can_deliver(self) -> None:
        self._require(VendorOrderStatus.SHIPPED, "delivered")

    @workflow.update(name="refund")
    async def refund(self, command: RefundCommand) -> RefundOutcome:
        """Give money back to the buyer (cancellations, returns, ops); after the payout the
        vendor's share is reversed."""
        return await self._money.refund(command)

    @refund.validator
    def _can_refund(self, command: RefundCommand) -> None:
        if command.amount_cents < 1:
            raise ApplicationError("a refund is at least one cent", type="validation_error")

    @workflow.signal(name="external_refund")
    async def external_refund(self, refund: ExternalRefund) -> None:
        await self._money.external_refund(refund)

    @workflow.signal(name="dispute")
    async def dispute(self, change: DisputeSignal) -> None:
        if change.status in ("won", "lost", "warning_closed", "charge_refunded"):
            self._open_disputes.discard(change.dispute_id)
        else:
            self._open_disputes.add(change.dispute_id)
        if self._money.paid:
            return
        if self._open_disputes:
            await self._set_attention("dispute")
        elif self._attention == "dispute":
            await self._set_attention(None)

    @workflow.signal(name="retry_payout")
    def retry_payout(self) -> None:
        """Operators fixed the cause of a failed payout: try again now, not after the backoff."""
        self._money.retry_requested = True

    @workflow.query(name="state")
    def state(self) -> VendorOrderState:
        return VendorOrderState(vendor_order_id=self._input.vendor_order_id, status=self._status)

    def _require(self, status: VendorOrderStatus, target: str) -> None:
        if self._busy or self._status != status:
            raise ApplicationError(
                f"vendor order is {self._status}; it cannot be {target} now",
                {"current_status": str(self._status)},
                type="invalid_state",
            )

    async def _moved_to(self, status: VendorOrderStatus) -> None:
        self._status = status
        self._upsert(sa.ORDER_STATUS.value_set(status), sa.WAITING_SINCE.value_set(workflow.now()))
        parent = workflow.get_external_workflow_handle(self._input.parent_workflow_id)
        await parent.signal(
            "vendor_order_changed",
            VendorOrderStatusSignal(
                vendor_order_id=self._input.vendor_order_id,
                vendor_id=self._input.vendor_id,
                status=status,
            ),
        )

    async def _set_attention(self, attention: str | None) -> None:
        self._attention = attention
        await workflow.execute_activity(
            "orders.set_attention",
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
