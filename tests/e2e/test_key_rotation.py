"""A vendor rotates its API key through the running API: it mints a second, named key (shown
once), both work until the old one is revoked, the revoked one is refused from the very next
request, and the last key cannot be revoked. Keys are listed without their secrets, with
when each was last used (written at most once a minute, not on every request)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from devstack.stack import DevStack
from tests.e2e.client import bearer, onboard
from tests.e2e.snapshot import connect


async def keys_of(api: httpx.AsyncClient, key: str) -> list[dict[str, Any]]:
    listed = await api.get("/v1/vendor/keys", headers=bearer(key))
    assert listed.status_code == 200, listed.text
    assert key not in listed.text
    return listed.json()["data"]  # type: ignore[no-any-return]


async def works(api: httpx.AsyncClient, key: str) -> int:
    return (await api.get("/v1/vendor/orders", headers=bearer(key))).status_code


async def test_a_vendor_rotates_its_key_and_the_old_one_is_refused_once_revoked(
    api: httpx.AsyncClient,
) -> None:
    # Given a vendor with the key it was onboarded with
    seller = await onboard(api, "Rotating")
    old = seller.key
    [first] = await keys_of(api, old)
    assert set(first) == {"id", "name", "prefix", "created_at", "last_used_at"}
    assert (first["name"], first["prefix"]) == ("initial", old[:10])
    # When it mints a second key
    minted = await api.post("/v1/vendor/keys", json={"name": "erp 2027"}, headers=bearer(old))
    assert minted.status_code == 201, minted.text
    new = minted.json()["api_key"]
    assert new.startswith("vk_") and new != old
    assert (minted.json()["name"], minted.json()["prefix"]) == ("erp 2027", new[:10])
    assert minted.json()["last_used_at"] is None
    # Then both keys work, and both are listed, neither's secret shown
    assert (await works(api, old), await works(api, new)) == (200, 200)
    listed = await keys_of(api, new)
    assert [k["name"] for k in listed] == ["initial", "erp 2027"]
    assert new not in str(listed) and old not in str(listed)
    # When the old key is revoked (with the new one)
    revoked = await api.delete(f"/v1/vendor/keys/{first['id']}", headers=bearer(new))
    assert revoked.status_code == 204, revoked.text
    # Then the old key is refused at once, the new one works on
    refused = await api.get("/v1/vendor/orders", headers=bearer(old))
    assert refused.status_code == 401
    assert refused.json()["code"] == "unauthorized"
    assert await works(api, new) == 200
    assert [k["name"] for k in await keys_of(api, new)] == ["erp 2027"]
    # and revoking it again finds nothing
    again = await api.delete(f"/v1/vendor/keys/{first['id']}", headers=bearer(new))
    assert again.status_code == 404


async def test_a_vendor_cannot_revoke_its_last_key(api: httpx.AsyncClient) -> None:
    seller = await onboard(api, "Lastkey")
    [only] = await keys_of(api, seller.key)
    answer = await api.delete(f"/v1/vendor/keys/{only['id']}", headers=seller.auth)
    assert answer.status_code == 409, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert (answer.json()["status"], answer.json()["code"]) == (409, "last_api_key")
    assert await works(api, seller.key) == 200
    assert [k["id"] for k in await keys_of(api, seller.key)] == [only["id"]]


async def test_a_vendor_neither_sees_nor_revokes_another_vendors_keys(
    api: httpx.AsyncClient,
) -> None:
    owner, other = await onboard(api, "Owner"), await onboard(api, "Other")
    minted = await api.post("/v1/vendor/keys", json={"name": "spare"}, headers=owner.auth)
    spare = minted.json()
    answer = await api.delete(f"/v1/vendor/keys/{spare['id']}", headers=other.auth)
    assert answer.status_code == 404, answer.text
    assert spare["id"] not in {k["id"] for k in await keys_of(api, other.key)}
    assert await works(api, spare["api_key"]) == 200


async def test_a_minted_key_retried_with_its_idempotency_key_is_the_same_key_kept_sealed(
    stack: DevStack, api: httpx.AsyncClient
) -> None:
    seller = await onboard(api, "Retrying")
    headers = {**seller.auth, "Idempotency-Key": uuid.uuid4().hex}
    first = await api.post("/v1/vendor/keys", json={"name": "retry"}, headers=headers)
    second = await api.post("/v1/vendor/keys", json={"name": "retry"}, headers=headers)
    assert (first.status_code, second.status_code) == (201, 201)
    assert first.json() == second.json()
    assert len(await keys_of(api, seller.key)) == 2
    with connect(stack.env["DATABASE_URL"]) as db:
        row = db.execute(
            "SELECT response_body FROM idempotency_record WHERE key = %s",
            (headers["Idempotency-Key"],),
        ).fetchone()
    assert row is not None and first.json()["api_key"].encode() not in bytes(row[0])


async def test_a_key_with_an_unknown_field_or_no_name_is_not_minted(
    api: httpx.AsyncClient,
) -> None:
    seller = await onboard(api, "Strictkeys")
    unknown = await api.post(
        "/v1/vendor/keys", json={"name": "x", "scopes": ["all"]}, headers=seller.auth
    )
    nameless = await api.post("/v1/vendor/keys", json={"name": ""}, headers=seller.auth)
    assert (unknown.status_code, nameless.status_code) == (422, 422)
    assert unknown.json()["errors"][0]["loc"] == ["body", "scopes"]
    assert len(await keys_of(api, seller.key)) == 1


async def test_last_used_is_written_at_most_once_a_minute_per_key(
    stack: DevStack, api: httpx.AsyncClient
) -> None:
    seller = await onboard(api, "Lastused")
    with connect(stack.env["DATABASE_URL"]) as db:

        def last_used() -> Any:
            row = db.execute(
                "SELECT last_used_at, xmin::text FROM api_key WHERE vendor_id = %s", (seller.id,)
            ).fetchone()
            assert row is not None
            return row

        for _ in range(5):
            assert await works(api, seller.key) == 200
        marked, version = last_used()
        for _ in range(10):
            assert await works(api, seller.key) == 200
        # The same value, and the row not written again (its xmin unchanged).
        assert last_used() == (marked, version)
    assert marked is not None
    [listed] = await keys_of(api, seller.key)
    assert listed["last_used_at"] is not None
