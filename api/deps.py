"""Dependencies as Annotated aliases (house style): SessionDep, TemporalDep, CurrentVendor...

Every dependency is `async def`, even one that only reads app state: FastAPI runs a plain
`def` dependency in its thread pool, a thread hop per dependency per request (about 8% of the
API's event-loop time in a flash sale's refusals, issue 10).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from redis.asyncio import Redis
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.client import Client

from api.auth import Principal, Role, bootstrap_role, hash_key, looks_like_vendor_key
from api.errors import Problem
from domain.errors import ErrorCode
from models.settings import Settings
from models.vendor import Vendor
from models.vendor_order import VendorOrder
from providers.stripe_adapter import StripeGateway
from stores.api_keys import active_key, note_use

_bearer = HTTPBearer(auto_error=False, description="API key of the platform, ops or a vendor")


async def _settings(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


async def _session(request: Request) -> AsyncIterator[AsyncSession]:
    async with request.app.state.sessions() as session:
        yield session


async def _temporal(request: Request) -> Client:
    return request.app.state.temporal  # type: ignore[no-any-return]


async def _redis(request: Request) -> Redis:
    return request.app.state.redis  # type: ignore[no-any-return]


async def _stripe(request: Request) -> StripeGateway:
    return request.app.state.stripe  # type: ignore[no-any-return]


SettingsDep = Annotated[Settings, Depends(_settings)]
SessionDep = Annotated[AsyncSession, Depends(_session)]
TemporalDep = Annotated[Client, Depends(_temporal)]
RedisDep = Annotated[Redis, Depends(_redis)]
StripeDep = Annotated[StripeGateway, Depends(_stripe)]


async def _principal(
    settings: SettingsDep,
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None or not credentials.credentials:
        raise Problem(ErrorCode.UNAUTHORIZED, "send an API key as 'Authorization: Bearer <key>'")
    key = credentials.credentials
    role = bootstrap_role(key, settings)
    if role is not None:
        return Principal(role)
    # Not read from a cache: a revoked key is refused from the next request on.
    stored = await active_key(session, hash_key(key)) if looks_like_vendor_key(key) else None
    if stored is None:
        raise Problem(ErrorCode.UNAUTHORIZED, "this API key is not valid")
    await note_use(session, stored)
    return Principal(Role.VENDOR, stored.vendor_id)


AnyRole = Annotated[Principal, Depends(_principal)]


def require(*roles: Role) -> Callable[..., Coroutine[Any, Any, Principal]]:
    async def check(principal: AnyRole) -> Principal:
        if principal.role not in roles:
            allowed = ", ".join(roles)
            raise Problem(ErrorCode.FORBIDDEN, f"this call is for the {allowed} role(s)")
        return principal

    return check


PlatformOrOps = Annotated[Principal, Depends(require(Role.PLATFORM, Role.OPS))]
Platform = Annotated[Principal, Depends(require(Role.PLATFORM))]
Ops = Annotated[Principal, Depends(require(Role.OPS))]
OpsOrVendor = Annotated[Principal, Depends(require(Role.OPS, Role.VENDOR))]


async def _current_vendor(principal: Annotated[Principal, Depends(require(Role.VENDOR))]) -> str:
    assert principal.vendor_id is not None
    return principal.vendor_id


CurrentVendor = Annotated[str, Depends(_current_vendor)]


def ensure_vendor_scope(principal: Principal, vendor_id: str, what: str = "vendor") -> None:
    """Ops see everything; a vendor sees only its own (others are 404: no existence leak)."""
    if principal.role == Role.VENDOR and principal.vendor_id != vendor_id:
        raise Problem(ErrorCode.NOT_FOUND, f"no such {what}")


async def vendor_in_scope(
    session: AsyncSession, principal: Principal, vendor_id: str, *, lock: bool = False
) -> Vendor:
    """The vendor the caller may act for (404 otherwise); `lock` to change it."""
    ensure_vendor_scope(principal, vendor_id)
    vendor = await session.get(Vendor, vendor_id, with_for_update=lock)
    if vendor is None:
        raise Problem(ErrorCode.NOT_FOUND, "no such vendor")
    return vendor


async def vendor_order_in_scope(
    session: AsyncSession, vendor_order_id: str, vendor_id: str | None, *, lock: bool = False
) -> VendorOrder:
    """The vendor order the caller may see: `vendor_id` is the calling vendor's (only its own
    sub-orders), None for ops and the platform (any). Another vendor's is 404, as one that does
    not exist: no existence leak. `lock` to change it."""
    vendor_order = await session.get(VendorOrder, vendor_order_id, with_for_update=lock)
    if vendor_order is None or (vendor_id is not None and vendor_order.vendor_id != vendor_id):
        raise Problem(ErrorCode.NOT_FOUND, "no such vendor order")
    return vendor_order
