"""The platform's (storefront's) event endpoints: registered with the URL and the event types
it wants, its signing secret rolled without downtime, each delivery and its attempts visible,
one replayed by hand, a disabled endpoint enabled again (docs/platform-events.md). Operators
list the endpoints that were disabled.

Deliveries are made by the worker's outbox loop (jobs/platform_events.py); these routes only
read and change rows.
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Query, Response, status
from pydantic_core import to_jsonable_python
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from api.deps import Ops, Platform, PlatformOrOps, SessionDep, SettingsDep
from api.errors import Problem
from api.keyset import in_time_order, time_key
from api.pagination import Page, PageParamsDep, after, page
from api.webhook_urls import ResolverDep, vet_webhook_url
from domain.errors import ErrorCode
from domain.pagination import KeyShape
from domain.platform_events import new_endpoint_id
from domain.secret_rotation import RotationInProgress, rotate
from domain.signing import new_secret
from models.base import utcnow
from models.platform_webhooks import (
    DeliveryPublic,
    EndpointCreate,
    EndpointPublic,
    EndpointWithSecret,
    PlatformDelivery,
    PlatformEndpoint,
    SecretRotationRequest,
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


ENDPOINTS = KeyShape("webhook_endpoints", (str, str))  # (created_at, id), oldest first
DELIVERIES = KeyShape("webhook_deliveries", (int,))  # id, newest first
FLAGGED = KeyShape("ops_webhook_endpoints", (str, str))  # (updated_at, id), newest first


@router.get("", response_model=Page[EndpointPublic])
async def list_endpoints(
    _: PlatformOrOps, session: SessionDep, params: PageParamsDep
) -> Page[EndpointPublic]:
    """The platform's endpoints, oldest first, page by page (docs/listings.md)."""
    query = select(PlatformEndpoint)
    query = in_time_order(
        query,
        col(PlatformEndpoint.created_at),
        col(PlatformEndpoint.id),
        params,
        ENDPOINTS,
        newest_first=False,
    )
    rows = list(await session.exec(query))
    return page(rows, params, ENDPOINTS, lambda e: time_key(e.created_at, e.id), EndpointPublic.of)


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


@router.post("/{endpoint_id}/rotate-secret", response_model=EndpointWithSecret)
async def rotate_secret(
    endpoint_id: str,
    _: Platform,
    session: SessionDep,
    body: SecretRotationRequest | None = None,
) -> EndpointWithSecret:
    """Roll the signing secret: the answer carries the new one, shown only here. Deliveries
    are signed with both until `previous_secret_expires_at` (24 h by default), then with the
    new one only. 409 while the secret the last rotation replaced is still live."""
    wanted = body or SecretRotationRequest()
    # Locked: two rotations at once would each replace the secret the other just made.
    endpoint = await _endpoint(session, endpoint_id, lock=True)
    now = utcnow()
    try:
        rotated = rotate(
            endpoint.secret,
            endpoint.previous_secret_expires_at,
            now,
            wanted.expire_current_after_seconds,
            new_secret(),
        )
    except RotationInProgress as live:
        # Written as every time in an answer is (…Z), so it compares equal to the rotation's.
        expires = to_jsonable_python(live.expires_at)
        raise Problem(
            ErrorCode.SECRET_ROTATION_IN_PROGRESS,
            f"the previous secret still signs deliveries until {expires}: "
            "rotate again after it expired",
            previous_secret_expires_at=expires,
        ) from None
    endpoint.secret = rotated.secret
    endpoint.previous_secret = rotated.previous_secret
    endpoint.previous_secret_expires_at = rotated.previous_secret_expires_at
    endpoint.updated_at = now
    session.add(endpoint)
    await session.commit()
    shown = EndpointPublic.of(endpoint, now)
    return EndpointWithSecret(**shown.model_dump(), secret=rotated.secret)


@router.get("/{endpoint_id}/deliveries", response_model=Page[DeliveryPublic])
async def list_deliveries(
    endpoint_id: str,
    _: PlatformOrOps,
    session: SessionDep,
    params: PageParamsDep,
    delivery_status: Literal["pending", "succeeded", "failed"] | None = Query(
        default=None, alias="status"
    ),
) -> Page[DeliveryPublic]:
    """The endpoint's deliveries, newest first, each with its attempts."""
    await _endpoint(session, endpoint_id)
    start = after(params, DELIVERIES)
    rows = await deliveries_page(
        session,
        endpoint_id,
        params.fetch,
        None if start is None else int(start[0]),
        delivery_status,
    )
    return page(rows, params, DELIVERIES, lambda row: (int(row.id or 0),), DeliveryPublic.of)


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


@ops_router.get("/webhook-endpoints", response_model=Page[EndpointPublic])
async def endpoints_needing_a_look(
    _: Ops,
    session: SessionDep,
    params: PageParamsDep,
    endpoint_status: Literal["enabled", "disabled"] = Query(default="disabled", alias="status"),
) -> Page[EndpointPublic]:
    """The platform's endpoints in that status: by default the disabled ones, the last
    changed first."""
    query = select(PlatformEndpoint).where(PlatformEndpoint.status == endpoint_status)
    query = in_time_order(
        query,
        col(PlatformEndpoint.updated_at),
        col(PlatformEndpoint.id),
        params,
        FLAGGED,
        newest_first=True,
    )
    rows = list(await session.exec(query))
    return page(rows, params, FLAGGED, lambda e: time_key(e.updated_at, e.id), EndpointPublic.of)
