"""Waiting for a vendor's shipment: the stock's hold renewed while the vendor prepares the
parcel, the ship SLA (attention and a reminder when it passes, then the automatic cancellation
after a grace period), cancelling, and registering a parcel for tracking once shipped.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from domain.attention import SHIPPING_REASONS, AttentionReason
    from domain.status import VendorOrderStatus
    from models.messages.money import RefundCommand
    from models.messages.shipping import TrackRequest
    from models.messages.vendor_order import (
        CancellationRecord,
        CancelRequest,
        RenewRequest,
        VendorOrderRef,
    )
    from temporal.names import Activity
    from workflows.options import STEP, TRACKING
    from workflows.vendor_order_base import VendorOrderBase


class ShipmentWait(VendorOrderBase):
    async def _renew_hold(self) -> None:
        data = self._input
        renew = RenewRequest(
            order_id=data.order_id,
            vendor_order_id=data.vendor_order_id,
            hold_seconds=data.timing.hold_seconds,
        )
        await workflow.execute_activity(Activity.RENEW_HOLD, renew, **STEP)

    async def _await_shipment(self) -> None:
        """Wait for the vendor, renewing the stock's hold; past the ship SLA flag and remind,
        and past the grace period after it cancel."""
        data = self._input
        renew_every = timedelta(seconds=data.timing.hold_seconds / 2)
        if self._next_renewal is None:
            self._next_renewal = workflow.now() + renew_every
        breach_at = cancel_at = None
        if data.ship_sla_seconds is not None:
            breach_at = data.created_at + timedelta(seconds=data.ship_sla_seconds)
            if data.timing.auto_cancel_seconds is not None:
                cancel_at = breach_at + timedelta(seconds=data.timing.auto_cancel_seconds)
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
        self._mark_lean()
        try:
            await self._cancel(CancelRequest(reason="ship_sla_expired", by="system"))
        except ActivityError:
            workflow.logger.warning("auto-cancel of %s failed", self._input.vendor_order_id)
            await self._set_attention(AttentionReason.AUTO_CANCEL_FAILED)
            return False
        return True

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
            # Refund first: a refused refund leaves the order as it was, stock still held
            # (freeing it first sold the units again while the vendor could still ship).
            self._mark_lean()
            outcome = await self._money.refund(refund)
            await workflow.execute_activity(Activity.RELEASE_VENDOR_ORDER, ref, **STEP)
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
            if status == "DELIVERED":
                self._mark_lean()
                self._registered_delivered = True
        except ActivityError:
            workflow.logger.warning("tracking not registered for %s", tracking_number)


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()
