"""The `idempotency_record` table: claiming a caller's key, keeping its answer, purging old
ones (issue 9, item 14).

Each call is one short transaction of its own: a claim must be visible to a concurrent
request with the same key before the request it guards starts its work.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from stores.db import execute_sql

# Rows purged per claim: enough to keep pace with the keys coming in, small enough that a
# claim never waits on a large delete.
PURGE_BATCH = 100


@dataclass(frozen=True)
class Answer:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


@dataclass(frozen=True)
class Record:
    method: str
    path: str
    fingerprint: str
    completed: bool
    # None while in flight, and for a route that answers its retries itself.
    answer: Answer | None


@dataclass(frozen=True)
class Claim:
    """Who holds a key while its request runs. A claim whose lease ran out may be taken over
    by a retry; the old holder's later writes then match no row and change nothing."""

    scope: str
    key: str
    token: str


# The conflict clause is the whole race: of all requests with one key, exactly one gets a
# row back. An expired row is free to anyone; an abandoned one (its holder died before it
# answered: the lease ran out) only to the same request, never to another body.
_CLAIM = text(
    """
    INSERT INTO idempotency_record AS r
        (scope, key, method, path, fingerprint, claim_token, created_at, lease_until, expires_at)
    VALUES (:scope, :key, :method, :path, :fingerprint, :token, now(), now() + :lease,
            now() + :retention)
    ON CONFLICT (scope, key) DO UPDATE SET
        method = EXCLUDED.method, path = EXCLUDED.path, fingerprint = EXCLUDED.fingerprint,
        claim_token = EXCLUDED.claim_token, created_at = EXCLUDED.created_at,
        lease_until = EXCLUDED.lease_until, expires_at = EXCLUDED.expires_at,
        completed_at = NULL, status_code = NULL, response_headers = NULL, response_body = NULL
    WHERE r.expires_at <= now()
       OR (r.completed_at IS NULL AND r.lease_until <= now()
           AND r.fingerprint = EXCLUDED.fingerprint)
    RETURNING claim_token
    """
)

_PURGE = text(
    """
    DELETE FROM idempotency_record WHERE (scope, key) IN (
        SELECT scope, key FROM idempotency_record WHERE expires_at <= now()
        ORDER BY expires_at LIMIT :batch FOR UPDATE SKIP LOCKED)
    """
)


class IdempotencyStore:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def claim(
        self,
        claim: Claim,
        *,
        method: str,
        path: str,
        fingerprint: str,
        lease: timedelta,
        retention: timedelta,
    ) -> bool:
        """True when this request now holds the key and must run; False when another
        request holds or answered it (read it with `find`)."""
        async with self._sessions() as session:
            won = (
                await execute_sql(
                    session,
                    _CLAIM,
                    {
                        "scope": claim.scope,
                        "key": claim.key,
                        "method": method,
                        "path": path,
                        "fingerprint": fingerprint,
                        "token": claim.token,
                        "lease": lease,
                        "retention": retention,
                    },
                )
            ).first() is not None
            if won:
                # Expired answers go as new keys come in: no job to schedule, and the table
                # stays as large as one retention period's keys.
                await execute_sql(session, _PURGE, {"batch": PURGE_BATCH})
            await session.commit()
        return won

    async def find(self, scope: str, key: str) -> Record | None:
        async with self._sessions() as session:
            row = (
                await execute_sql(
                    session,
                    text(
                        "SELECT method, path, fingerprint, completed_at, status_code,"
                        " response_headers, response_body FROM idempotency_record"
                        " WHERE scope = :scope AND key = :key AND expires_at > now()"
                    ),
                    {"scope": scope, "key": key},
                )
            ).first()
        if row is None:
            return None
        answer = (
            Answer(
                row.status_code,
                [(str(name), str(value)) for name, value in row.response_headers or []],
                bytes(row.response_body or b""),
            )
            if row.status_code is not None
            else None
        )
        return Record(row.method, row.path, row.fingerprint, row.completed_at is not None, answer)

    async def complete(self, claim: Claim, answer: Answer | None) -> None:
        """Keep the answer (None: only bind the key to its request) for the retries."""
        await self._write(
            "UPDATE idempotency_record SET completed_at = now(), status_code = :status,"
            " response_headers = CAST(:headers AS jsonb), response_body = :body"
            " WHERE scope = :scope AND key = :key AND claim_token = :token",
            claim,
            {
                "status": answer.status if answer else None,
                "headers": _json_pairs(answer.headers) if answer else None,
                "body": answer.body if answer else None,
            },
        )

    async def release(self, claim: Claim) -> None:
        """Forget a request that got no answer worth keeping: its retry runs afresh."""
        await self._write(
            "DELETE FROM idempotency_record"
            " WHERE scope = :scope AND key = :key AND claim_token = :token",
            claim,
            {},
        )

    async def renew(self, claim: Claim, lease: timedelta) -> None:
        await self._write(
            "UPDATE idempotency_record SET lease_until = now() + :lease"
            " WHERE scope = :scope AND key = :key AND claim_token = :token"
            " AND completed_at IS NULL",
            claim,
            {"lease": lease},
        )

    async def _write(self, sql: str, claim: Claim, params: dict[str, object]) -> None:
        async with self._sessions() as session:
            await execute_sql(
                session,
                text(sql),
                {"scope": claim.scope, "key": claim.key, "token": claim.token, **params},
            )
            await session.commit()


def _json_pairs(headers: list[tuple[str, str]]) -> str:
    return json.dumps([[name, value] for name, value in headers])
