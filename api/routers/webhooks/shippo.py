"""Shippo's tracking webhook (API.md, "Webhooks"): a parcel delivered moves its vendor order to
delivered; a failed or returning parcel flags it for operators. Shippo does not sign its
webhooks: the URL carries a secret token instead."""

from __future__ import annotations

import asyncio
import hmac

from fastapi import APIRouter, Query, Request
from sqlmodel import col, func, select
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from api.deps import SessionDep, SettingsDep, TemporalDep
from api.errors import Problem
from api.routers.webhooks.once import handling_once
from api.vendor_order_updates import update_vendor_order
from domain.errors import ErrorCode
from domain.ids import shippo_event_id
from models.messages.shipping import TrackingProblem
from models.messages.vendor_order import VendorOrderState
from models.vendor_order import VendorOrder
from providers.shippo_adapter import ShippoGateway
from providers.shippo_tracking import TrackingUpdate
from temporal.names import Signal, Update

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])

_PROBLEMS = frozenset({"FAILURE", "RETURNED"})


@router.post("/shippo")
async def shippo_webhook(
    request: Request,
    session: SessionDep,
    temporal: TemporalDep,
    settings: SettingsDep,
    token: str = Query(default="", max_length=200),
) -> dict[str, object]:
    if not hmac.compare_digest(token.encode(), settings.shippo_webhook_token.encode()):
        raise Problem(ErrorCode.UNAUTHORIZED, "wrong or missing webhook token")
    try:
        update = ShippoGateway.parse_webhook(await request.body())
    except ValueError as error:
        raise Problem(ErrorCode.VALIDATION_ERROR, f"not a Shippo webhook: {error}") from error
    if update is None or (update.status != "DELIVERED" and update.status not in _PROBLEMS):
        return {"received": True, "acted": False}
    vendor_order = (
        await session.exec(
            select(VendorOrder).where(
                VendorOrder.tracking_number == update.tracking_number,
                func.lower(col(VendorOrder.carrier)) == update.carrier.lower(),
            )
        )
    ).first()
    if vendor_order is None:
        # Not a parcel of ours (or not yet recorded): nothing to do, and nothing to retry.
        return {"received": True, "acted": False}
    event_id = shippo_event_id(
        update.carrier, update.tracking_number, update.status, update.status_id
    )
    session.expunge(vendor_order)
    async with handling_once(session, event_id, "shippo", update.status) as first:
        if not first:
            return {"received": True, "acted": False, "duplicate": True}
        await _act(temporal, vendor_order, update)
    return {"received": True, "acted": True}


async def _act(temporal: Client, vendor_order: VendorOrder, update: TrackingUpdate) -> None:
    if update.status == "DELIVERED":
        await _deliver(temporal, vendor_order)
        return
    handle = temporal.get_workflow_handle(vendor_order.workflow_id)
    try:
        await handle.signal(
            Signal.TRACKING_PROBLEM,
            TrackingProblem(
                status=update.status, detail=f"{update.carrier} {update.tracking_number}"
            ),
        )
    except RPCError as error:
        # The vendor order's workflow is over (paid out): too late to matter to it.
        if error.status != RPCStatusCode.NOT_FOUND:
            raise


# A parcel can be delivered (by the carrier's clock) while `ship` is still registering it:
# the vendor order is not `shipped` yet, or is busy. Such an event waits a little, and then
# Shippo is asked to send it again; it is never taken for "already delivered".
_SETTLED = frozenset({"delivered", "completed", "cancelled"})
DELIVERY_WAIT_SECONDS = 10.0
_POLL_SECONDS = 0.25


async def _deliver(temporal: Client, vendor_order: VendorOrder) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DELIVERY_WAIT_SECONDS
    while True:
        try:
            await update_vendor_order(
                temporal, vendor_order, Update.DELIVER, None, VendorOrderState
            )
            return
        except Problem as problem:
            if problem.code != "invalid_state":
                raise
            if problem.extra.get("current_status") in _SETTLED:
                return  # delivered already (by the vendor or an earlier event): same outcome
            if loop.time() >= deadline:
                raise Problem(
                    ErrorCode.UNAVAILABLE,
                    "the parcel's shipment is still being recorded; send the event again",
                    retry_after=5,
                ) from problem
        await asyncio.sleep(_POLL_SECONDS)
