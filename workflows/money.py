"""A vendor order's money steps, run one at a time inside its workflow.

Refunds, reversals and the payout all go through one lock: a refund can never race the
payout it must reduce or reverse, whatever order signals and updates arrive in.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from models.messages import (
        ExternalRefund,
        PayoutOutcome,
        PayoutRequest,
        RefundCommand,
        RefundOutcome,
        ReversalCommand,
        ReversalOutcome,
    )
    from workflows.options import PAYOUT, STEP, refusal_of

# A failed payout (no or restricted account) is tried again later, the wait doubling to this.
PAYOUT_RETRY_MAX = timedelta(hours=1)

Flag = Callable[[str | None], Awaitable[None]]


class MoneyDesk:
    def __init__(
        self, order_id: str, vendor_order_id: str, flag: Flag, *, retry_after: timedelta
    ) -> None:
        self._order_id = order_id
        self._vendor_order_id = vendor_order_id
        self._flag = flag
        self._retry_after = retry_after
        self._lock = asyncio.Lock()
        self._steps = 0
        self.paid = False
        self.retry_requested = False

    async def refund(self, command: RefundCommand) -> RefundOutcome:
        async with self._lock:
            outcome = await workflow.execute_activity(
                "payments.refund", command, result_type=RefundOutcome, **STEP
            )
            await self._reverse_if_paid(outcome)
            return outcome

    async def external_refund(self, refund: ExternalRefund) -> None:
        async with self._lock:
            outcome = await workflow.execute_activity(
                "payments.record_external_refund", refund, result_type=RefundOutcome, **STEP
            )
            await self._reverse_if_paid(outcome)

    async def pay(self) -> PayoutOutcome:
        """Pay the vendor; while the cause of a refusal lasts, flag it and try again later."""
        wait = self._retry_after
        flagged = False
        attempt = 0
        while True:
            async with self._lock:
                try:
                    outcome = await workflow.execute_activity(
                        "payments.pay_vendor",
                        PayoutRequest(
                            vendor_order_id=self._vendor_order_id,
                            order_id=self._order_id,
                            attempt=attempt,
                        ),
                        result_type=PayoutOutcome,
                        **PAYOUT,
                    )
                except ActivityError as error:
                    refusal = refusal_of(error)
                    if refusal is None or refusal[0] != "payout_failed":
                        raise
                else:
                    self.paid = True
                    if flagged:
                        await self._flag(None)
                    return outcome
            attempt += 1
            if not flagged:
                await self._flag("payout_failed")
                flagged = True
            self.retry_requested = False
            try:
                await workflow.wait_condition(lambda: self.retry_requested, timeout=wait)
            except TimeoutError:
                pass
            wait = min(wait * 2, PAYOUT_RETRY_MAX)

    async def _reverse_if_paid(self, outcome: RefundOutcome) -> None:
        if not self.paid or outcome.to_reverse_cents <= 0:
            return
        self._steps += 1
        reversal = await workflow.execute_activity(
            "payments.reverse_payout",
            ReversalCommand(
                order_id=self._order_id,
                vendor_order_id=self._vendor_order_id,
                step=f"{outcome.provider_refund_id or self._steps}",
            ),
            result_type=ReversalOutcome,
            **STEP,
        )
        if reversal.debt_cents:
            await self._flag("payout_reversal_pending")
