"""A refund that arrives after its vendor order's workflow has closed (the vendor was paid
and the return window is long over): record it and reverse the vendor's share.

Started by the Stripe webhook with the id `adjust-{vendor_order_id}-{refund_id}`, so the
same refund delivered twice adjusts once.
"""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from models import search_attributes as sa
    from models.messages import (
        AttentionChange,
        ExternalRefund,
        RefundOutcome,
        ReversalCommand,
        ReversalOutcome,
    )
    from workflows.options import STEP


@workflow.defn(name="PayoutAdjustmentWorkflow")
class PayoutAdjustmentWorkflow:
    @workflow.run
    async def run(self, refund: ExternalRefund) -> ReversalOutcome:
        outcome = await workflow.execute_activity(
            "payments.record_external_refund", refund, result_type=RefundOutcome, **STEP
        )
        reversal = ReversalOutcome(reversed_cents=0, debt_cents=0)
        if outcome.to_reverse_cents > 0:
            reversal = await workflow.execute_activity(
                "payments.reverse_payout",
                ReversalCommand(
                    order_id=refund.order_id,
                    vendor_order_id=refund.vendor_order_id,
                    step=refund.provider_refund_id,
                ),
                result_type=ReversalOutcome,
                **STEP,
            )
        if reversal.debt_cents:
            workflow.upsert_search_attributes(
                [sa.ATTENTION_NEEDED.value_set("payout_reversal_pending")]
            )
            await workflow.execute_activity(
                "orders.set_attention",
                AttentionChange(
                    vendor_order_id=refund.vendor_order_id, attention="payout_reversal_pending"
                ),
                **STEP,
            )
        return reversal
