"""Changing a vendor order through its workflow, for every router that does: the vendor app
(ship, deliver, receive a return), the storefront (cancel, open a return), ops (refund) and the
Shippo webhook (delivered). The workflow decides whether the change is allowed; this module
turns its answer, or its absence, into the API's problems."""

from __future__ import annotations

import asyncio
from typing import Any

from temporalio.client import (
    Client,
    WorkflowHandle,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.service import RPCError, RPCStatusCode

from api.errors import Problem, from_update_failure
from domain.errors import ErrorCode
from domain.status import VendorOrderStatus
from models.vendor_order import VendorOrder

# Statuses after which a vendor order's workflow has closed for good.
CLOSED_STATUSES = frozenset({VendorOrderStatus.COMPLETED, VendorOrderStatus.CANCELLED})
# A confirmed order's vendor-order workflows start right after the order row is confirmed; a
# worker crash in between delays them by seconds. Wait that long before telling the caller
# to come back (503), never a 409 for a state that is in fact correct.
WORKFLOW_START_WAIT_SECONDS = 8.0
_POLL_SECONDS = 0.25
# The workflow writes a change to the database in an activity, then takes it into its own
# state when the activity returns: for those milliseconds (longer on a loaded worker) a
# caller who read the row can be refused for a state the row already shows. Such a refusal
# is asked again for this long (e.g. a return opened the moment the order shows delivered).
CATCH_UP_SECONDS = 3.0
_CATCH_UP_POLL_SECONDS = 0.05


async def update_vendor_order(
    client: Client,
    vendor_order: VendorOrder,
    name: str,
    arg: Any,
    result_type: type,
    *,
    update_id: str | None = None,
    row_allows_it: bool = False,
) -> Any:
    """Apply a change through the vendor order's workflow, which decides whether it may.

    `row_allows_it`: the row read shows a state in which the change is allowed, so a refusal
    for the state (`invalid_state`) may be the workflow catching up (CATCH_UP_SECONDS)."""
    handle = client.get_workflow_handle(vendor_order.workflow_id)
    args = [] if arg is None else [arg]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WORKFLOW_START_WAIT_SECONDS
    catch_up_until = loop.time() + CATCH_UP_SECONDS
    while True:
        try:
            return await handle.execute_update(
                name, args=args, id=update_id, result_type=result_type
            )
        except WorkflowUpdateFailedError as error:
            problem = from_update_failure(error)
            if (
                row_allows_it
                and problem.code == ErrorCode.INVALID_STATE
                and loop.time() < catch_up_until
            ):
                await asyncio.sleep(_CATCH_UP_POLL_SECONDS)
                continue
            raise problem from error
        except WorkflowUpdateRPCTimeoutOrCancelledError as error:
            raise Problem(
                ErrorCode.TIMEOUT, "the change is still being applied; send the same request again"
            ) from error
        except RPCError as error:
            if error.status != RPCStatusCode.NOT_FOUND:
                raise
            if vendor_order.status in CLOSED_STATUSES or await _has_closed(handle):
                # The workflow finished: nothing can change this vendor order any more.
                raise Problem(
                    ErrorCode.INVALID_STATE,
                    f"vendor order is {vendor_order.status}",
                    current_status=vendor_order.status,
                ) from error
            if loop.time() >= deadline:
                raise Problem(
                    ErrorCode.UNAVAILABLE,
                    "this vendor order is still being set up; send the same request again",
                    retry_after=2,
                ) from error
        await asyncio.sleep(_POLL_SECONDS)


async def _has_closed(handle: WorkflowHandle[Any, Any]) -> bool:
    """True when the workflow ran and is over; False when it has not started yet."""
    try:
        await handle.describe()
    except RPCError as error:
        if error.status == RPCStatusCode.NOT_FOUND:
            return False
        raise
    return True
