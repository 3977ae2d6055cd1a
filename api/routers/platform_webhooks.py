"""The platform's (storefront's) event endpoints: registered with the URL and the event types
it wants, each delivery and its attempts visible, one replayed by hand, a disabled endpoint
enabled again (docs/platform-events.md). Operators list the endpoints that were disabled.

Deliveries are made by the worker's outbox loop (jobs/platform_events.py); these routes only
read and change rows.
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Query, Response, status
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from api.deps import Ops, Platform, PlatformOrOps, SessionDep, SettingsDep
from api.errors import Problem
from api.webhook_urls import ResolverDep, vet_webhook_url
from domain.errors import ErrorCode
from domain.platform_events import new_endpoint_id
from domain.signing import new_secret
from models.base import utcnow
from models.platform_webhooks import (
    DeliveryPage,
    DeliveryPublic,
    EndpointCreate,
    EndpointPublic,
    EndpointWithSecret,
    PlatformDelivery,
    PlatformEndpoint,
)
from stores.platform_deliveries import deliveries_page

router = APIRouter(prefix="/v1/webhook-endpoints", tags=["platform events"])
ops_router = APIRouter(prefix="/v1/ops", tags=["operators"])


async def _endpoint(
    session: AsyncSession, endpoint_id: str, *, lock: bool = False
) -> PlatformEndpoint:
    endpoint = await session.get(PlatformEndpoint, endpoint_id, with_for_update=lock)
    if endpoint is None:
        raise Problem(ErrorCode.NOT_FOUND, "no such webhook endpoint")
    return endpoint


@router.post("", status_code=status.HTTP_201_CREATED, response_model=EndpointWithSecret)
async def create_endpoint(
    body: EndpointCreate,
    _: Platform,
    session: SessionDep,
    settings: SettingsDep,
    resolve: ResolverDep,
) -> EndpointWithSecret:
    """Register an endpoint. The answer carries its signing secret, shown only here."""
    # The same rules as a vendor's webhook: never loopback, private, link-local, metadata...
    url = await vet_webhook_url(body.url, settings, resolve)
    now = utcnow()
    endpoint = PlatformEndpoint(
        id=new_endpoint_id(),
        url=url,
        description=body.description,
        event_types=body.event_types,
        secret=new_secret(),
        status="enabled",
        created_at=now,
        updated_at=now,
    )
    session.add(endpoint)
    await session.commit()
    return EndpointWithSecret(**EndpointPublic.of(endpoint).model_dump(), secret=endpoint.secret)


@router.get("", response_model=list[EndpointPublic])
async def list_endpoints(_: PlatformOrOps, session: SessionDep) -> list[EndpointPublic]:
    found = await session.exec(
        select(PlatformEndpoint).order_by(
            col(PlatformEndpoint.created_at), col(PlatformEndpoint.id)
        )
    )
    return [EndpointPublic.of(endpoint) for endpoint in found]


@router.get("/{endpoint_id}", response_model=EndpointPublic)
async def get_endpoint(endpoint_id: str, _: PlatformOrOps, session: SessionDep) -> EndpointPublic:
    return EndpointPublic.of(await _endpoint(session, endpoint_id))


@router.delete("/{endpoint_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_endpoint(endpoint_id: str, _: Platform, session: SessionDep) -> Response:
    """Remove the endpoint and its deliveries: nothing more is sent to it."""
    endpoint = await _endpoint(session, endpoint_id, lock=True)
    await session.delete(endpoint)
    await session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{endpoint_id}/enable", response_model=EndpointPublic)
async def enable_endpoint(
    endpoint_id: str, _: PlatformOrOps, session: SessionDep
) -> EndpointPublic:
    """Enable an endpoint that was disabled: its pending deliveries go out again, in order."""
    endpoint = await _endpoint(session, endpoint_id, lock=True)
    if endpoint.status != "enabled":
        endpoint.status = "enabled"
        endpoint.disabled_reason = None
        endpoint.disabled_at = None
        endpoint.consecutive_failures = 0
        endpoint.failing_since = None
        endpoint.updated_at = utcnow()
        session.add(endpoint)
        await session.commit()
    return EndpointPublic.of(endpoint)


@router.get("/{endpoint_id}/deliveries", response_model=DeliveryPage)
async def list_deliveries(
    endpoint_id: str,
    _: PlatformOrOps,
    session: SessionDep,
    limit: int = Query(default=20, ge=1, le=100),
    starting_after: int | None = Query(
        default=None, ge=1, description="a delivery id from the previous page: the ones after it"
    ),
    delivery_status: Literal["pending", "succeeded", "failed"] | None = Query(
        default=None, alias="status"
    ),
) -> DeliveryPage:
    """The endpoint's deliveries, newest first, each with its attempts."""
    await _endpoint(session, endpoint_id)
    rows, more = await deliveries_page(session, endpoint_id, limit, starting_after, delivery_status)
    return DeliveryPage(
        data=[DeliveryPublic.of(row) for row in rows],
        has_more=more,
        next_starting_after=rows[-1].id if more and rows else None,
    )


@router.post(
    "/{endpoint_id}/deliveries/{delivery_id}/retry",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=DeliveryPublic,
)
async def retry_delivery(
    endpoint_id: str, delivery_id: int, _: PlatformOrOps, session: SessionDep
) -> DeliveryPublic:
    """Send this delivery again now (whatever its status): the worker makes the attempt and
    records it, as any other. 409 while the endpoint is disabled: enable it first."""
    endpoint = await _endpoint(session, endpoint_id)
    if endpoint.status != "enabled":
        raise Problem(
            ErrorCode.INVALID_STATE,
            "the endpoint is disabled: enable it before retrying its deliveries",
            endpoint_status=endpoint.status,
        )
    delivery = await session.get(PlatformDelivery, delivery_id, with_for_update=True)
    if delivery is None or delivery.endpoint_id != endpoint_id:
        raise Problem(ErrorCode.NOT_FOUND, "no such delivery for this endpoint")
    now = utcnow()
    delivery.status = "pending"
    delivery.next_attempt_at = now
    delivery.updated_at = now
    session.add(delivery)
    await session.commit()
    return DeliveryPublic.of(delivery)


@ops_router.get("/webhook-endpoints", response_model=list[EndpointPublic])
async def endpoints_needing_a_look(
    _: Ops,
    session: SessionDep,
    endpoint_status: Literal["enabled", "disabled"] = Query(default="disabled", alias="status"),
) -> list[EndpointPublic]:
    """The platform's endpoints in that status: by default the disabled ones, newest first."""
    found = await session.exec(
        select(PlatformEndpoint)
        .where(PlatformEndpoint.status == endpoint_status)
        .order_by(col(PlatformEndpoint.updated_at).desc())
    )
    return [EndpointPublic.of(endpoint) for endpoint in found]
