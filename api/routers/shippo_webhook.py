"""Shippo's tracking webhook (API.md, "Webhooks"): a parcel delivered moves its vendor order to
delivered; a failed or returning parcel flags it for operators. Shippo does not sign its
webhooks: the URL carries a secret token instead."""

from __future__ import annotations

import hashlib
import hmac

from fastapi import APIRouter, Query, Request
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import col, func, select
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from api.deps import SessionDep, SettingsDep, TemporalDep
from api.errors import Problem
from api.routers.vendor_app import update_vendor_order
from models.base import utcnow
from models.db import execute_sql
from models.ledger import WebhookEvent
from models.messages import TrackingProblem, VendorOrderState
from models.vendor_order import VendorOrder
from providers.shippo_adapter import ShippoGateway, TrackingUpdate

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
        raise Problem("unauthorized", "wrong or missing webhook token")
    try:
        update = ShippoGateway.parse_webhook(await request.body())
    except ValueError as error:
        raise Problem("validation_error", f"not a Shippo webhook: {error}") from error
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
    seen = f"{update.carrier}\0{update.tracking_number}\0{update.status}\0{update.status_id}"
    event_id = "shippo_" + hashlib.sha256(seen.encode()).hexdigest()[:40]
    first = await execute_sql(
        session,
        insert(WebhookEvent)
        .values(id=event_id, provider="shippo", type=update.status, received_at=utcnow())
        .on_conflict_do_nothing()
        .returning(col(WebhookEvent.id)),
    )
    await session.commit()
    if first.first() is None:
        return {"received": True, "acted": False, "duplicate": True}
    session.expunge(vendor_order)
    try:
        await _act(temporal, vendor_order, update)
    except BaseException:
        # Forget the event so Shippo's retry processes it again.
        await execute_sql(
            session,
            WebhookEvent.__table__.delete().where(WebhookEvent.id == event_id),  # type: ignore[attr-defined]
        )
        await session.commit()
        raise
    return {"received": True, "acted": True}


async def _act(temporal: Client, vendor_order: VendorOrder, update: TrackingUpdate) -> None:
    if update.status == "DELIVERED":
        try:
            await update_vendor_order(temporal, vendor_order, "deliver", None, VendorOrderState)
        except Problem as problem:
            # Delivered already (by the vendor, or an earlier event): the same outcome.
            if problem.code != "invalid_state":
                raise
        return
    handle = temporal.get_workflow_handle(vendor_order.workflow_id)
    try:
        await handle.signal(
            "tracking_problem",
            TrackingProblem(
                status=update.status, detail=f"{update.carrier} {update.tracking_number}"
            ),
        )
    except RPCError as error:
        # The vendor order's workflow is over (paid out): too late to matter to it.
        if error.status != RPCStatusCode.NOT_FOUND:
            raise
