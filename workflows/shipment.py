"""Waiting for a vendor's shipment and its delivery: the stock's hold renewed while the
vendor prepares the parcel, the ship SLA (attention and a reminder when it passes, then the
automatic cancellation after a grace period), cancelling, registering a parcel for tracking
once shipped, and the delivery (by the vendor, the carrier, or flagged when overdue).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from domain import progress
    from domain.attention import DELIVERY_REASONS, SHIPPING_REASONS, AttentionReason
    from domain.status import VendorOrderStatus
    from models.messages.money import RefundCommand
    from models.messages.shipping import DeliveryRecord, TrackRequest
    from models.messages.vendor_order import (
        CancellationRecord,
        CancelRequest,
        RenewRequest,
        VendorOrderRef,
    )
    from temporal.names import Activity
    from workflows.options import STEP, TRACKING
    from workflows.vendor_order_base import VendorOrderBase


@dataclass
class _ShipDeadlines:
    """The vendor's ship SLA (flag and remind at `breach_at`) and the automatic cancellation
    a grace period after it (`cancel_at`); None where the vendor or the settings set none."""

    breach_at: datetime | None
    cancel_at: datetime | None

    def breach_due(self, now: datetime, breached: bool) -> bool:
        return self.breach_at is not None and not breached and now >= self.breach_at

    def cancel_due(self, now: datetime, breached: bool) -> bool:
        return self.cancel_at is not None and breached and now >= self.cancel_at


class ShipmentWait(VendorOrderBase):
    async def _renew_hold(self) -> None:
        data = self._input
        renew = RenewRequest(
            order_id=data.order_id,
            vendor_order_id=data.vendor_order_id,
            hold_seconds=data.timing.hold_seconds,
        )
        await workflow.execute_activity(
            Activity.RENEW_HOLD, renew, summary="renew the stock's hold", **STEP
        )

    async def _await_shipment(self) -> None:
        """Wait for the vendor, renewing the stock's hold; past the ship SLA flag and remind,
        and past the grace period after it cancel. Each pass sleeps until the next of those
        deadlines (or a change: shipped, cancelled, a change starting or ending), then does
        what is due."""
        sla = self._ship_deadlines()
        if self._next_renewal is None:
            self._next_renewal = workflow.now() + self._renew_every()
        while self._status == VendorOrderStatus.AWAITING_SHIPMENT:
            if not await self._sleep_until_due(sla):
                continue  # woken by a change: look again
            now = workflow.now()
            await self._renew_hold_if_due(now)
            if self._status != VendorOrderStatus.AWAITING_SHIPMENT:
                return
            if self._ack_overdue(now):
                await self._flag_ack_overdue()
            if sla.breach_due(now, self._breached):
                await self._flag_ship_sla_breach(sla)
            elif sla.cancel_due(now, self._breached) and not self._changing.locked():
                if not await self._auto_cancel():
                    sla.cancel_at = None  # flagged for a person; the vendor may still ship
            if self._status == VendorOrderStatus.AWAITING_SHIPMENT:
                await self._renew_history_if_long("awaiting_shipment")

    def _say_waiting_to_ship(self) -> None:
        sla = self._ship_deadlines()
        if self._ack_due_at is not None and not self._breached:
            self._say(
                progress.acknowledgement_overdue(self._vendor, self._ack_due_at)
                if self._ack_flagged
                else progress.awaiting_acknowledgement(self._vendor, self._ack_due_at)
            )
        elif self._breached and sla.breach_at is not None:
            self._say(progress.ship_sla_passed(self._vendor, sla.breach_at, sla.cancel_at))
        else:
            self._say(progress.waiting_to_ship(self._vendor, sla.breach_at))

    def _ship_deadlines(self) -> _ShipDeadlines:
        data = self._input
        breach_at = cancel_at = None
        if data.ship_sla_seconds is not None:
            breach_at = data.created_at + timedelta(seconds=data.ship_sla_seconds)
            if data.timing.auto_cancel_seconds is not None:
                cancel_at = breach_at + timedelta(seconds=data.timing.auto_cancel_seconds)
        return _ShipDeadlines(breach_at, cancel_at)

    def _renew_every(self) -> timedelta:
        return timedelta(seconds=self._input.timing.hold_seconds / 2)  # renewed at half

    async def _sleep_until_due(self, sla: _ShipDeadlines) -> bool:
        """True when a deadline came; False when a change woke it first."""
        assert self._next_renewal is not None
        due = {self._next_renewal: "renew the stock's hold"}
        if sla.breach_at is not None and not self._breached:
            due.setdefault(sla.breach_at, "ship SLA ends")
        if sla.cancel_at is not None and self._breached and not self._changing.locked():
            due.setdefault(sla.cancel_at, "automatic cancellation")
        if self._ack_due_at is not None and not self._ack_flagged:
            due.setdefault(self._ack_due_at, "acceptance due")
        first = min(due)
        wait = max(first - workflow.now(), timedelta(milliseconds=1))
        busy = self._changing.locked()
        try:
            await workflow.wait_condition(
                lambda: (
                    self._status != VendorOrderStatus.AWAITING_SHIPMENT
                    or self._changing.locked() != busy
                ),
                timeout=wait,
                timeout_summary=due[first],
            )
        except TimeoutError:
            return True
        return False

    async def _renew_hold_if_due(self, now: datetime) -> None:
        assert self._next_renewal is not None
        if now >= self._next_renewal:
            await self._renew_hold()
            self._next_renewal = workflow.now() + self._renew_every()

    def _ack_overdue(self, now: datetime) -> bool:
        return self._ack_due_at is not None and not self._ack_flagged and now >= self._ack_due_at

    async def _flag_ack_overdue(self) -> None:
        """Past the ack SLA with no answer: operators see it (unless something graver is
        already flagged), the supplier is reminded. The ship SLA still runs."""
        assert self._ack_due_at is not None
        self._ack_flagged = True
        self._say_waiting_to_ship()
        if self._attention is None:
            await self._set_attention(AttentionReason.ACK_OVERDUE)
        await self._notify("vendor_order.ack_reminder", {"accept_by": self._ack_due_at.isoformat()})

    async def _flag_ship_sla_breach(self, sla: _ShipDeadlines) -> None:
        """Past the ship SLA: operators see it, the vendor is reminded when it cancels."""
        assert sla.breach_at is not None
        self._breached = True
        self._say(progress.ship_sla_passed(self._vendor, sla.breach_at, sla.cancel_at))
        await self._set_attention(AttentionReason.SHIP_SLA_BREACHED)
        await self._notify(
            "vendor_order.ship_reminder",
            {"ship_by": sla.breach_at.isoformat(), "cancels_at": _iso(sla.cancel_at)},
        )

    async def _delivered_or_flagged_overdue(self) -> None:
        overdue = self._input.timing.delivery_overdue_seconds
        arrived = lambda: self._status == VendorOrderStatus.DELIVERED or self._carrier_delivered()  # noqa: E731
        try:
            await workflow.wait_condition(
                arrived,
                timeout=None if overdue is None else timedelta(seconds=overdue),
                timeout_summary="delivery overdue",
            )
        except TimeoutError:
            if self._attention is None:
                self._say(
                    progress.delivery_needs_a_look(AttentionReason.DELIVERY_OVERDUE, workflow.now())
                )
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

    async def _deliver(self) -> None:
        async with self._changing:
            now = workflow.now()
            ends = now + timedelta(seconds=self._input.timing.return_window_seconds)
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
            self._say(progress.return_window(ends))
            if self._attention in DELIVERY_REASONS:
                await self._set_attention(None)

    async def _auto_cancel(self) -> bool:
        """The SLA's cancellation; a refusal (the refund refused) is flagged for operators
        instead of failing the workflow, and the stock stays held for the vendor order."""
        self._mark_lean()
        try:
            await self._cancel(CancelRequest(reason="ship_sla_expired", by="system"))
        except ActivityError:
            workflow.logger.warning("auto-cancel of %s failed", self._input.vendor_order_id)
            self._say(progress.auto_cancel_refused(self._vendor))
            await self._set_attention(AttentionReason.AUTO_CANCEL_FAILED)
            return False
        return True

    async def _cancel(self, request: CancelRequest) -> None:
        async with self._changing:
            await self._cancel_holding_the_lock(request)

    async def _cancel_holding_the_lock(self, request: CancelRequest) -> None:
        """The cancellation, by one that holds `_changing` already (a supplier's rejection
        decides and cancels in one hold: no ship may come between)."""
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
        self._say(progress.cancelled(request.reason, request.by))
        if self._attention in SHIPPING_REASONS:
            await self._set_attention(None)
        await self._notify("vendor_order.cancelled", {"reason": request.reason, "by": request.by})

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
