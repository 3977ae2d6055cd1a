"""Provider webhooks (API.md, "Webhooks"): verified, processed once, idempotent."""

from __future__ import annotations

from fastapi import APIRouter, Request
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError
from sqlmodel import col

from api import stripe_events
from api.deps import SessionDep, SettingsDep, StripeDep, TemporalDep
from api.errors import Problem
from models.base import utcnow
from models.db import execute_sql
from models.ledger import WebhookEvent
from providers.errors import ProviderRejectedError

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])


@router.post("/stripe")
async def stripe_webhook(
    request: Request,
    session: SessionDep,
    temporal: TemporalDep,
    stripe: StripeDep,
    settings: SettingsDep,
) -> dict[str, bool]:
    payload = await request.body()
    try:
        event = stripe.parse_webhook(
            payload, request.headers.get("Stripe-Signature"), settings.stripe_webhook_secret
        )
    except ProviderRejectedError as error:
        raise Problem("invalid_signature", f"webhook refused: {error.message}") from error
    try:
        first = await execute_sql(
            session,
            insert(WebhookEvent)
            .values(id=event["id"], provider="stripe", type=event["type"], received_at=utcnow())
            .on_conflict_do_nothing()
            # rowcount is not reliable here (-1): a returned row says it was new.
            .returning(col(WebhookEvent.id)),
        )
        await session.commit()
    except IntegrityError as error:  # pragma: no cover - the insert ignores conflicts
        raise Problem("invalid_state", "could not record the event") from error
    if first.first() is None:
        return {"received": True, "duplicate": True}
    try:
        await stripe_events.handle(event, session, temporal, settings.task_queue)
        await session.commit()
    except BaseException:
        # Forget the event so the provider's retry processes it again.
        await session.rollback()
        await execute_sql(
            session,
            WebhookEvent.__table__.delete().where(WebhookEvent.id == event["id"]),  # type: ignore[attr-defined]
        )
        await session.commit()
        raise
    return {"received": True, "duplicate": False}
