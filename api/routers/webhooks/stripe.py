"""Provider webhooks (API.md, "Webhooks"): verified, processed once, idempotent."""

from __future__ import annotations

from fastapi import APIRouter, Request

from api.deps import SessionDep, SettingsDep, StripeDep, TemporalDep
from api.errors import Problem
from api.routers.webhooks import stripe_events
from api.routers.webhooks.once import handling_once
from domain.errors import ErrorCode
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
        raise Problem(ErrorCode.INVALID_SIGNATURE, f"webhook refused: {error.message}") from error
    if event["type"] not in stripe_events.ACTED_ON:
        # Nothing to do, so nothing to do once: no row, no transaction.
        return {"received": True, "ignored": True}
    async with handling_once(session, event["id"], "stripe", event["type"]) as first:
        if not first:
            return {"received": True, "duplicate": True}
        await stripe_events.handle(event, session, temporal, settings.task_queue)
    return {"received": True, "duplicate": False}
