"""A vendor order's money steps, run one at a time inside its workflow.

Refunds, reversals and the payout all go through one lock: a refund can never race the
payout it must reduce or reverse, whatever order signals and updates arrive in.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from domain.attention import AttentionReason
    from domain.errors import ErrorCode
    from domain.ids import payout_reversal_key
    from domain.payout import next_payout_wait
    from models.messages.money import (
        ExternalRefund,
        PayoutOutcome,
        PayoutRequest,
        RefundCommand,
        RefundOutcome,
        ReversalCommand,
        ReversalOutcome,
    )
    from temporal.names import Activity
    from workflows.options import PAYOUT, STEP
    from workflows.refusal import Refusal

Flag = Callable[[str | None], Awaitable[None]]
Hook = Callable[[], Awaitable[None]]


class MoneyDesk:
    def __init__(
        self,
        order_id: str,
        vendor_order_id: str,
        flag: Flag,
        *,
        retry_after: timedelta,
        mark: Callable[[], None] = lambda: None,
        refused: Callable[[str, int, datetime], None] = lambda reason, attempt, next_try: None,
    ) -> None:
        # Told of each refused payout: why, how many attempts, when the next one is.
        self._refused = refused
        # The retired patch's marker where runs recorded it (VendorOrderBase._mark_lean).
        self._mark = mark
        self._order_id = order_id
        self._vendor_order_id = vendor_order_id
        self._flag = flag
        self._retry_after = retry_after
        self._lock = asyncio.Lock()
        self._steps = 0
        self.paid = False
        self.paid_cents = 0
        self.retry_requested = False
        # Where a payout that keeps being refused stands (carried across continue-as-new).
        self.attempt = 0
        self.failures = 0
        self.flagged = False
        self.wait: timedelta | None = None

    def restore(
        self, *, attempt: int, failures: int, flagged: bool, wait: timedelta | None, steps: int
    ) -> None:
        self.attempt, self.failures, self.flagged, self.wait = attempt, failures, flagged, wait
        self._steps = steps

    @property
    def steps(self) -> int:
        return self._steps

    async def refund(self, command: RefundCommand) -> RefundOutcome:
        async with self._lock:
            outcome = await workflow.execute_activity(
                Activity.REFUND,
                command,
                result_type=RefundOutcome,
                summary=f"refund the buyer ({command.refund_key})",
                **STEP,
            )
            await self._reverse_if_paid(outcome.provider_refund_id, outcome.to_reverse_cents)
            return outcome

    async def external_refund(self, refund: ExternalRefund) -> None:
        async with self._lock:
            outcome = await workflow.execute_activity(
                Activity.RECORD_EXTERNAL_REFUND, refund, result_type=RefundOutcome, **STEP
            )
            await self._reverse_if_paid(outcome.provider_refund_id, outcome.to_reverse_cents)

    async def pay(self, *, hold: Hook | None = None, between: Hook | None = None) -> None:
        """Pay the vendor; while the cause of a refusal lasts, flag it and try again later.

        `hold` runs before each attempt (an open dispute holds the payout, even one opened
        while the payout was being retried); `between` runs after each wait (the workflow
        continues as new there when its history grows long)."""
        self._mark()
        if self.wait is None:
            self.wait = self._retry_after
        while True:
            if hold is not None:
                await hold()
            async with self._lock:
                try:
                    outcome = await workflow.execute_activity(
                        Activity.PAY_VENDOR,
                        PayoutRequest(
                            vendor_order_id=self._vendor_order_id,
                            order_id=self._order_id,
                            attempt=self.attempt,
                        ),
                        result_type=PayoutOutcome,
                        summary=f"pay the vendor, attempt {self.attempt + 1}",
                        **PAYOUT,
                    )
                except ActivityError as error:
                    refusal = Refusal.of_step(error)
                    if refusal is None or refusal.code != ErrorCode.PAYOUT_FAILED:
                        raise
                    wait = self.wait or self._retry_after
                    self._refused(refusal.detail, self.attempt + 1, workflow.now() + wait)
                else:
                    self.paid = True
                    self.paid_cents = outcome.amount_cents
                    if self.flagged:
                        await self._flag(None)
                    # A refund recorded while the transfer was under way was paid out too.
                    await self._reverse_if_paid(
                        payout_reversal_key(outcome.transfer_id), outcome.to_reverse_cents
                    )
                    return
            self.attempt += 1
            self.failures += 1
            if not self.flagged:
                await self._flag(AttentionReason.PAYOUT_FAILED)
                self.flagged = True
            self.retry_requested = False
            try:
                await workflow.wait_condition(
                    lambda: self.retry_requested,
                    timeout=self.wait,
                    timeout_summary="next payout try",
                )
            except TimeoutError:
                pass
            # Slower as refusals last (domain.payout.next_payout_wait).
            self.wait = next_payout_wait(self.wait, self.failures)
            if between is not None:
                await between()

    async def _reverse_if_paid(self, step: str | None, to_reverse_cents: int) -> None:
        """Take back from a vendor already paid what a refund (`step`) gave the buyer."""
        if not self.paid or to_reverse_cents <= 0:
            return
        self._steps += 1
        reversal = await workflow.execute_activity(
            Activity.REVERSE_PAYOUT,
            ReversalCommand(
                order_id=self._order_id,
                vendor_order_id=self._vendor_order_id,
                step=f"{step or self._steps}",
            ),
            result_type=ReversalOutcome,
            **STEP,
        )
        if reversal.debt_cents:
            await self._flag(AttentionReason.PAYOUT_REVERSAL_PENDING)
