"""A vendor suspended after the API's check and before the saga reads the catalog: the saga
refuses the order itself, with the same code, before anything is held or charged."""

from __future__ import annotations

import pytest
from temporalio.client import WorkflowFailureError, WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

from tests.workflows.fakes import FakeWorld
from tests.workflows.test_order_saga import check_out, order_input, refusal


@pytest.mark.parametrize("status", ["suspended", "pending"])
async def test_a_vendor_not_active_when_the_saga_reads_its_catalog_is_refused_untouched(
    env: WorkflowEnvironment, task_queue: str, fake: FakeWorld, status: str
) -> None:
    fake.catalog["TYRE-700"] = fake.catalog["TYRE-700"].model_copy(update={"vendor_status": status})
    order = order_input()
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await check_out(env, task_queue, order)
    error = refusal(refused.value)
    assert error.type == "vendor_unavailable"
    assert error.details[0] == {"skus": ["TYRE-700"], "vendor_ids": ["ven_b"]}
    assert fake.stock == {"BRAKE-01": 10, "TYRE-700": 5}
    assert fake.held == {} and fake.charges == []
    assert fake.rejections[order.order_id]["code"] == "vendor_unavailable"
    assert fake.rejections[order.order_id]["skus"] == ["TYRE-700"]
    handle = env.client.get_workflow_handle(f"order-{order.order_id}")
    with pytest.raises(WorkflowFailureError) as failed:
        await handle.result()
    assert refusal(failed.value).type == "vendor_unavailable"


async def test_an_active_vendors_order_is_sold_as_before(
    env: WorkflowEnvironment, task_queue: str, fake: FakeWorld
) -> None:
    order = order_input()
    result, _ = await check_out(env, task_queue, order)
    assert result.status == "confirmed"
    assert fake.held[order.order_id] and len(fake.charges) == 1
