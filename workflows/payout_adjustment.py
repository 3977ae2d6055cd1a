"""Money back to the buyer after its vendor order's workflow has closed (the vendor was paid,
the return window is over): refund, or record an outside refund, then reverse the vendor's
share; if its balance cannot cover it, the debt is netted against its next payout.

Started with the id `adjust-{vendor_order_id}-{refund}`, so the same refund asked for or
announced twice adjusts once.
"""

from __future__ import annotations

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from domain.attention import AttentionReason
    from domain.errors import ErrorCode
    from models.messages.money import (
        PayoutAdjustment,
        RefundOutcome,
        ReversalCommand,
        ReversalOutcome,
    )
    from models.messages.vendor_order import AttentionChange
    from temporal import search_attributes as sa
    from temporal.names import Activity, Workflow
    from workflows.options import STEP


@workflow.defn(name=Workflow.PAYOUT_ADJUSTMENT)
class PayoutAdjustmentWorkflow:
    @workflow.run
    async def run(self, adjustment: PayoutAdjustment) -> ReversalOutcome:
        if adjustment.external_reversal is not None:
            # The vendor gave money back without a refund: it may now be owed that much.
            outcome = await workflow.execute_activity(
                Activity.RECORD_EXTERNAL_REVERSAL,
                adjustment.external_reversal,
                result_type=ReversalOutcome,
                **STEP,
            )
            await self._flag(adjustment.vendor_order_id, AttentionReason.PAYOUT_REVERSED_OUTSIDE)
            return outcome
        if adjustment.refund is not None:
            outcome = await workflow.execute_activity(
                Activity.REFUND, adjustment.refund, result_type=RefundOutcome, **STEP
            )
        elif adjustment.external is not None:
            outcome = await workflow.execute_activity(
                Activity.RECORD_EXTERNAL_REFUND,
                adjustment.external,
                result_type=RefundOutcome,
                **STEP,
            )
        else:
            raise ApplicationError("nothing to adjust", type=ErrorCode.VALIDATION_ERROR)
        reversal = ReversalOutcome(reversed_cents=0, debt_cents=0)
        if outcome.to_reverse_cents > 0:
            reversal = await workflow.execute_activity(
                Activity.REVERSE_PAYOUT,
                ReversalCommand(
                    order_id=adjustment.order_id,
                    vendor_order_id=adjustment.vendor_order_id,
                    step=outcome.provider_refund_id or workflow.info().workflow_id,
                ),
                result_type=ReversalOutcome,
                **STEP,
            )
        if reversal.debt_cents:
            await self._flag(adjustment.vendor_order_id, AttentionReason.PAYOUT_REVERSAL_PENDING)
        return reversal

    async def _flag(self, vendor_order_id: str, attention: str) -> None:
        workflow.upsert_search_attributes([sa.ATTENTION_NEEDED.value_set(attention)])
        await workflow.execute_activity(
            Activity.SET_ATTENTION,
            AttentionChange(vendor_order_id=vendor_order_id, attention=attention),
            **STEP,
        )
