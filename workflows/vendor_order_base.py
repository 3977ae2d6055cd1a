"""What every step of a vendor order's workflow shares: its state, how a change is recorded
(status, attention, search attributes, the parent told), the vendor's notifications, the
continue-as-new of a long wait, and the one patch marker runs still record.

workflows/vendor_order.py tells the story; workflows/shipment.py waits for the shipment.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ApplicationError, FailureError

with workflow.unsafe.imports_passed_through():
    from domain.errors import ErrorCode, InvalidState
    from domain.status import VendorOrderStatus, ensure_vendor_transition
    from models.messages.notifications import VendorNotification
    from models.messages.vendor_order import (
        AttentionChange,
        VendorOrderInput,
        VendorOrderResume,
        VendorOrderState,
        VendorOrderStatusSignal,
    )
    from temporal import search_attributes as sa
    from temporal.names import Activity, Signal
    from workflows.money import MoneyDesk
    from workflows.notification import notify_vendor
    from workflows.options import STEP
    from workflows.returns import ReturnDesk

# Issue 10's vendor order, which includes every patch before it (hold renewals, service
# levels, cancellation and returns, refund-first cancellation, payouts that slow down, returns
# expired when decided). Retired (issue 11) the documented way: deprecated, its old paths
# gone, so runs started before it can no longer replay and this version is deployed only once
# none is open (docs/production.md, "Retired patches"). See `_mark_lean`.
LEAN = "lean-vendor-order"


class VendorOrderBase:
    # Set by VendorOrderWorkflow.__init__.
    _input: VendorOrderInput
    _status: VendorOrderStatus
    # Held while a change's activities run (ship, deliver, cancel): a second one racing the
    # first must lose cleanly instead of both passing the status check.
    _changing: asyncio.Lock
    _window_ends: datetime | None
    _attention: str | None
    _open_disputes: set[str]
    _closed_disputes: set[str]
    _marked: bool
    _money: MoneyDesk
    _returns: ReturnDesk
    _registered_delivered: bool
    _breached: bool
    _next_renewal: datetime | None
    # Acknowledgement (workflows/supplier.py): the answer's deadline (None: answered or not
    # needed), whether it was flagged overdue, the supplier's reference, rejections so far.
    _ack_due_at: datetime | None
    _ack_flagged: bool
    _supplier_ref: str | None
    _rejections: int

    async def _renew_history_if_long(self, phase: str = "payout") -> None:
        """Continue as new when the history grows long (a wait of months), carrying what
        this run knows. Only between steps, with no handler at work."""
        info = workflow.info()
        full = info.get_current_history_length() >= self._input.timing.history_limit
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
                        ack_due_at=self._ack_due_at,
                        ack_flagged=self._ack_flagged,
                        supplier_order_ref=self._supplier_ref,
                        rejections=self._rejections,
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
        self._ack_due_at = resume.ack_due_at
        self._ack_flagged = resume.ack_flagged
        self._supplier_ref = resume.supplier_order_ref
        self._rejections = resume.rejections
        wait = resume.payout_wait_seconds
        self._money.restore(
            attempt=resume.payout_attempt,
            failures=resume.payout_failures,
            flagged=resume.payout_flagged,
            wait=None if wait is None else timedelta(seconds=wait),
            steps=resume.reversal_steps,
        )

    async def _no_open_dispute(self) -> None:
        if self._open_disputes:
            await workflow.wait_condition(lambda: not self._open_disputes)

    async def _notify(self, kind: str, data: dict[str, Any], *, key: str = "") -> None:
        if not self._input.notify_vendor:
            self._mark_lean()
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

    @property
    def _vendor(self) -> str:
        return self._input.vendor_name or self._input.vendor_id

    def _state_now(self) -> VendorOrderState:
        """What the `state` query and every update answer."""
        return VendorOrderState(vendor_order_id=self._input.vendor_order_id, status=self._status)

    def _say(self, details: str) -> None:
        """What this vendor order is doing, for the operator in the Temporal UI
        (domain/progress.py). Not history: it costs no event and replays nothing."""
        workflow.set_current_details(details)

    def _require(self, target: VendorOrderStatus) -> None:
        """Refuse a move the status does not allow (domain.status), or any move while another
        change is at work."""
        try:
            if self._changing.locked():
                raise InvalidState("another change is at work")
            ensure_vendor_transition(self._status, target)
        except InvalidState:
            raise ApplicationError(
                f"vendor order is {self._status}; it cannot be {target} now",
                {"current_status": str(self._status)},
                type=ErrorCode.INVALID_STATE,
            ) from None

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

    def _mark_lean(self) -> None:
        """The retired patch's marker, once per run, deprecated: a run recorded while the
        patch was live has its marker where it first asked about a patch (at its start, or
        in a run continued as new, at the first step that asked), so this is called where
        those steps were. It goes once no run without the deprecated marker is open."""
        if not self._marked:
            self._marked = True
            workflow.deprecate_patch(LEAN)
