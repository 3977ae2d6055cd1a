"""The supplier answers (issue 13): a vendor that acknowledges its orders accepts each one with
its own reference, or rejects it; then the vendor's rule decides: cancel this part and refund
the buyer, or move it to another of the vendor's warehouses (cancelled if none can hold it),
where it waits to be accepted again. No answer within the ack SLA flags it `ack_overdue`
(workflows/shipment.py, in the wait for the shipment); the ship SLA runs all along, and a
shipment is an answer too.

A vendor without the rule may still accept an order to record its reference. Orders of
vendors without the rule run none of this: their histories are what they were.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from domain import progress
    from domain.attention import AttentionReason
    from domain.errors import ErrorCode
    from domain.status import VendorOrderStatus
    from models.messages.vendor_order import (
        AcceptanceRecord,
        AcceptRequest,
        CancelRequest,
        RejectionOutcome,
        RejectionRecord,
        RejectRequest,
        VendorOrderState,
    )
    from temporal.names import Activity, Update
    from workflows.options import STEP
    from workflows.shipment import ShipmentWait


class SupplierAnswers(ShipmentWait):
    @workflow.update(name=Update.ACCEPT)
    async def accept(self, request: AcceptRequest) -> VendorOrderState:
        self._check_answerable()
        if self._supplier_ref == request.supplier_order_ref:
            return self._state_now()  # the same answer again (a retry): nothing more to do
        async with self._changing:
            data = self._input
            await workflow.execute_activity(
                Activity.RECORD_ACCEPTANCE,
                AcceptanceRecord(
                    order_id=data.order_id,
                    vendor_order_id=data.vendor_order_id,
                    supplier_order_ref=request.supplier_order_ref,
                    accepted_at=workflow.now(),
                ),
                summary=f"record {self._vendor}'s acceptance",
                **STEP,
            )
            self._supplier_ref = request.supplier_order_ref
            self._ack_due_at = None
            self._ack_flagged = False
            if self._attention == AttentionReason.ACK_OVERDUE:
                await self._set_attention(None)
            self._say_waiting_to_ship()
        return self._state_now()

    @accept.validator
    def _can_accept(self, request: AcceptRequest) -> None:
        self._check_answerable()
        if not request.supplier_order_ref.strip():
            raise ApplicationError(
                "supplier_order_ref is required", type=ErrorCode.VALIDATION_ERROR
            )
        if self._supplier_ref not in (None, request.supplier_order_ref):
            raise ApplicationError(
                f"already accepted as {self._supplier_ref}",
                {"supplier_order_ref": self._supplier_ref},
                type=ErrorCode.INVALID_STATE,
            )

    @workflow.update(name=Update.REJECT)
    async def reject(self, request: RejectRequest) -> VendorOrderState:
        self._check_answerable()
        policy = self._input.ack
        async with self._changing:
            self._rejections += 1
            now = workflow.now()
            next_due = None if policy is None else now + timedelta(seconds=policy.sla_seconds)
            outcome = await workflow.execute_activity(
                Activity.ANSWER_REJECTION,
                RejectionRecord(
                    order_id=self._input.order_id,
                    vendor_order_id=self._input.vendor_order_id,
                    reason=request.reason,
                    note=request.note,
                    number=self._rejections,
                    reroute=policy is not None and policy.on_reject == "reroute",
                    rejected_at=now,
                    next_due_at=next_due,
                ),
                result_type=RejectionOutcome,
                summary=f"{self._vendor} rejected it ({request.reason})",
                **STEP,
            )
            if outcome.moved_to is None:
                # Decided and done in one hold of the lock: no shipment comes between.
                await self._cancel_holding_the_lock(
                    CancelRequest(reason=f"rejected_by_supplier:{request.reason}", by="vendor")
                )
                return self._state_now()
            self._ack_due_at, self._ack_flagged, self._supplier_ref = next_due, False, None
            if self._attention == AttentionReason.ACK_OVERDUE:
                await self._set_attention(None)
            self._say(progress.rerouted(self._vendor, outcome.moved_to, next_due))
        await self._notify(
            "vendor_order.rerouted",
            {
                "warehouse_id": outcome.moved_to,
                "reason": request.reason,
                "accept_by": None if next_due is None else next_due.isoformat(),
            },
            key=str(self._rejections),
        )
        return self._state_now()

    @reject.validator
    def _can_reject(self, request: RejectRequest) -> None:
        self._check_answerable()

    def _check_answerable(self) -> None:
        """A supplier answers an order it has not shipped, with no other change at work."""
        if self._status != VendorOrderStatus.AWAITING_SHIPMENT or self._changing.locked():
            raise ApplicationError(
                f"vendor order is {self._status}; it cannot be accepted or rejected now",
                {"current_status": str(self._status)},
                type=ErrorCode.INVALID_STATE,
            )
