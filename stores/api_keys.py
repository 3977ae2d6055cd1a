"""Vendors' API keys: the lookup behind every vendor request, its last-use mark, and rotation
(mint, list, revoke; api/routers/vendor_keys.py)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, or_, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.errors import ErrorCode, InvalidState, NotFound
from models.base import utcnow
from models.vendor import ApiKey, Vendor
from stores.db import execute_sql

# last_used_at is a hint for rotation ("is the old key still used?"): a minute is precise
# enough, and a busy key then costs one write a minute, not one per request.
LAST_USED_PRECISION = timedelta(minutes=1)
# A vendor with more live keys than this has lost track of them.
MOST_KEYS_PER_VENDOR = 20


class LastKey(InvalidState):
    code = ErrorCode.LAST_API_KEY


async def active_key(session: AsyncSession, key_hash: str) -> ApiKey | None:
    """The live (not revoked) key with this digest."""
    query = select(ApiKey).where(ApiKey.key_hash == key_hash, col(ApiKey.revoked_at).is_(None))
    return (await session.exec(query)).first()


async def note_use(session: AsyncSession, key: ApiKey) -> None:
    """Mark the key used now, unless it was marked within LAST_USED_PRECISION; committed at
    once (a route that only reads never commits). The condition is repeated in SQL: API
    processes marking the same key at once write it once."""
    now = utcnow()
    if key.last_used_at is not None and now - key.last_used_at < LAST_USED_PRECISION:
        return
    since = now - LAST_USED_PRECISION
    await execute_sql(
        session,
        update(ApiKey)
        .where(
            col(ApiKey.id) == key.id,
            or_(col(ApiKey.last_used_at).is_(None), col(ApiKey.last_used_at) < since),
        )
        .values(last_used_at=now),
    )
    await session.commit()


async def live_keys(session: AsyncSession, vendor_id: str) -> list[ApiKey]:
    query = (
        select(ApiKey)
        .where(ApiKey.vendor_id == vendor_id, col(ApiKey.revoked_at).is_(None))
        .order_by(col(ApiKey.created_at), col(ApiKey.id))
    )
    return list(await session.exec(query))


async def _count_live(session: AsyncSession, vendor_id: str) -> int:
    query = select(func.count()).where(
        ApiKey.vendor_id == vendor_id, col(ApiKey.revoked_at).is_(None)
    )
    return int((await session.exec(query)).one())


async def _lock_vendor(session: AsyncSession, vendor_id: str) -> None:
    # Key changes of one vendor queue on its row: two revocations at once cannot both see
    # "another key is left" and leave none.
    if await session.get(Vendor, vendor_id, with_for_update=True) is None:
        raise NotFound("no such vendor")


async def add_key(session: AsyncSession, key: ApiKey) -> None:
    await _lock_vendor(session, key.vendor_id)
    if await _count_live(session, key.vendor_id) >= MOST_KEYS_PER_VENDOR:
        raise InvalidState(
            f"a vendor has at most {MOST_KEYS_PER_VENDOR} live keys: revoke one first",
            most_keys=MOST_KEYS_PER_VENDOR,
        )
    session.add(key)
    await session.commit()


async def revoke_key(session: AsyncSession, vendor_id: str, key_id: str) -> datetime:
    """Revoke one of the vendor's live keys, never its last: 404 for another vendor's key or
    one already revoked, 409 `last_api_key` for the last."""
    await _lock_vendor(session, vendor_id)
    key = await session.get(ApiKey, key_id, with_for_update=True)
    if key is None or key.vendor_id != vendor_id or key.revoked_at is not None:
        raise NotFound("no such API key")
    if await _count_live(session, vendor_id) <= 1:
        raise LastKey("this is the vendor's last API key: create another before revoking this one")
    key.revoked_at = utcnow()
    session.add(key)
    await session.commit()
    return key.revoked_at
