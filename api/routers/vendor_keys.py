"""A vendor's own API keys: mint a second one, list them, revoke the old (key rotation).

Both keys work until the old one is revoked; a revoked key is refused from the next request on
(auth reads the database on every request, there is no cache to outlive it). The last live key
cannot be revoked: the vendor would have no way back in but ops.
"""

from __future__ import annotations

from fastapi import APIRouter, Response, status
from sqlmodel import col, select

from api.auth import Role, hash_key, mint_vendor_key
from api.deps import CurrentVendor, SessionDep
from api.keyset import in_time_order, time_key
from api.pagination import Page, PageParamsDep, page
from domain.ids import new_api_key_id
from domain.pagination import KeyShape
from models.vendor import ApiKey, ApiKeyCreate, ApiKeyPublic, ApiKeyWithSecret
from stores.api_keys import add_key, revoke_key

router = APIRouter(prefix="/v1/vendor/keys", tags=["vendor app"])

# How much of a key the listing shows: enough to recognise it, far too little to use it.
PREFIX_LENGTH = 10


@router.post("", status_code=status.HTTP_201_CREATED, response_model=ApiKeyWithSecret)
async def create_key(
    body: ApiKeyCreate, vendor_id: CurrentVendor, session: SessionDep
) -> ApiKeyWithSecret:
    """A new key for the calling vendor, shown once in this answer."""
    secret = mint_vendor_key()
    key = ApiKey(
        id=new_api_key_id(),
        key_hash=hash_key(secret),
        prefix=secret[:PREFIX_LENGTH],
        role=Role.VENDOR,
        vendor_id=vendor_id,
        name=body.name,
    )
    await add_key(session, key)
    return ApiKeyWithSecret(**ApiKeyPublic.of(key).model_dump(), api_key=secret)


KEYS = KeyShape("vendor_keys", (str, str))  # (created_at, id), oldest first


@router.get("", response_model=Page[ApiKeyPublic])
async def list_keys(
    vendor_id: CurrentVendor, session: SessionDep, params: PageParamsDep
) -> Page[ApiKeyPublic]:
    """The calling vendor's live keys, oldest first, without their secrets."""
    query = select(ApiKey).where(ApiKey.vendor_id == vendor_id, col(ApiKey.revoked_at).is_(None))
    query = in_time_order(
        query, col(ApiKey.created_at), col(ApiKey.id), params, KEYS, newest_first=False
    )
    rows = list(await session.exec(query))
    return page(rows, params, KEYS, lambda key: time_key(key.created_at, key.id), ApiKeyPublic.of)


@router.delete(
    "/{key_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={409: {"description": "the vendor's last key (`last_api_key`)"}},
)
async def revoke(key_id: str, vendor_id: CurrentVendor, session: SessionDep) -> Response:
    """Revoke one of the calling vendor's keys (another vendor's is 404)."""
    await revoke_key(session, vendor_id, key_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
