"""The Idempotency-Key middleware (api/idempotency.py) against real PostgreSQL, on a small app
whose one route the test holds, fails or refuses at will: what is kept, for whom, for how
long, and what a retry meets while its first request is still running."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Annotated, Any

import httpx
import pytest
from fastapi import APIRouter, FastAPI, Header, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from api import errors, idempotency
from api.deps import AnyRole
from api.errors import Problem
from api.sealed_answers import MARK, open_sealed
from devstack import free_port
from devstack.stack import DevStack
from domain.idempotency import request_fingerprint
from models.settings import DEV_OPS_KEY, DEV_PLATFORM_KEY, Settings
from stores.db import execute_sql, make_engine, make_sessionmaker

OPS = {"Authorization": f"Bearer {DEV_OPS_KEY}"}
PLATFORM = {"Authorization": f"Bearer {DEV_PLATFORM_KEY}"}


class Thing(BaseModel):
    name: str


@dataclass
class World:
    """The route's behaviour, set by each test: answers to give in turn, and a gate."""

    calls: list[str] = field(default_factory=list)
    outcomes: list[str] = field(default_factory=list)
    entered: asyncio.Event = field(default_factory=asyncio.Event)
    release: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        self.release.set()


def small_app(world: World, sessions: async_sessionmaker[AsyncSession], wait: float) -> FastAPI:
    app = FastAPI()
    app.state.settings = Settings(FULFILLMENT_ENV="test")
    app.state.sessions = sessions
    errors.install(app)
    idempotency.install(app, in_flight_wait=wait)
    router = APIRouter(prefix="/v1")

    @router.post("/things", status_code=201)
    async def make(body: Thing, response: Response, _: AnyRole) -> Any:
        world.calls.append(body.name)
        world.entered.set()
        await world.release.wait()
        outcome = world.outcomes.pop(0) if world.outcomes else "ok"
        if outcome == "error":
            return JSONResponse({"detail": "broken"}, status_code=500)
        if outcome == "crash":
            raise RuntimeError("the route failed")
        if outcome == "busy":
            return JSONResponse({"detail": "slow down"}, status_code=429)
        if outcome == "refuse":
            raise Problem("invalid_state", "refused", current_status="shipped")
        response.headers["Location"] = f"/v1/things/{len(world.calls)}"
        return {"n": len(world.calls), "name": body.name}

    @router.post("/own-keys")
    async def own_keys(
        body: Thing,
        _: AnyRole,
        key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
    ) -> dict[str, Any]:
        world.calls.append(body.name)
        return {"n": len(world.calls)}

    app.include_router(router)
    return app


DB_POOL_SIZE = 10  # connections of the `sessions` fixture (tests/conftest.py)


@dataclass
class Setup:
    world: World
    client: httpx.AsyncClient
    sessions: async_sessionmaker[AsyncSession]


async def started(sessions: async_sessionmaker[AsyncSession], wait: float) -> Setup:
    world = World()
    transport = httpx.ASGITransport(
        app=small_app(world, sessions, wait), raise_app_exceptions=False
    )
    client = httpx.AsyncClient(transport=transport, base_url="http://test")
    return Setup(world, client, sessions)


@pytest.fixture
async def setup(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[Setup]:
    built = await started(sessions, wait=10.0)
    async with built.client:
        yield built


def key() -> str:
    return "key-" + uuid.uuid4().hex


async def post(
    setup: Setup, idem: str | None, name: str, auth: dict[str, str] = OPS
) -> httpx.Response:
    headers = {**auth, **({"Idempotency-Key": idem} if idem is not None else {})}
    return await setup.client.post("/v1/things", json={"name": name}, headers=headers)


async def rows(setup: Setup, idem: str) -> list[Any]:
    async with setup.sessions() as session:
        result = await execute_sql(
            session,
            text("SELECT * FROM idempotency_record WHERE key = :key ORDER BY scope"),
            {"key": idem},
        )
        return list(result.all())


def opened(row: Any, idem: str) -> bytes:
    """A kept answer's body, sealed under the ops key (api/sealed_answers.py)."""
    stored = bytes(row.response_body)
    assert stored.startswith(MARK), "an answer kept in clear"
    return open_sealed(
        stored,
        token=DEV_OPS_KEY,
        scope="ops",
        idempotency_key=idem,
        status=row.status_code,
        headers=[(str(name), str(value)) for name, value in row.response_headers],
    )


async def test_given_an_answered_key_when_the_same_request_comes_again_then_the_first_answer_is_replayed(  # noqa: E501
    setup: Setup,
) -> None:
    idem = key()
    first = await post(setup, idem, "bolt")
    again = await post(setup, idem, "bolt")
    assert (first.status_code, first.json()) == (201, {"n": 1, "name": "bolt"})
    assert (again.status_code, again.json()) == (201, {"n": 1, "name": "bolt"})
    assert again.headers["location"] == first.headers["location"] == "/v1/things/1"
    assert again.headers["content-type"] == first.headers["content-type"] == "application/json"
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert setup.world.calls == ["bolt"]
    (row,) = await rows(setup, idem)
    assert (row.scope, row.method, row.path, row.status_code) == ("ops", "POST", "/v1/things", 201)
    assert json.loads(opened(row, idem)) == {"n": 1, "name": "bolt"}


async def test_given_an_answered_key_when_another_body_comes_with_it_then_422_and_the_route_does_not_run(  # noqa: E501
    setup: Setup,
) -> None:
    idem = key()
    assert (await post(setup, idem, "bolt")).status_code == 201
    refused = await post(setup, idem, "nut")
    assert refused.status_code == 422
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["code"] == "idempotency_key_reused"
    assert refused.json()["first_request"] == "POST /v1/things"
    assert setup.world.calls == ["bolt"]
    assert (await post(setup, idem, "bolt")).json() == {"n": 1, "name": "bolt"}


async def test_given_a_request_running_when_its_retry_arrives_then_the_retry_waits_and_gets_its_answer(  # noqa: E501
    setup: Setup,
) -> None:
    idem = key()
    setup.world.release.clear()
    first = asyncio.create_task(post(setup, idem, "bolt"))
    await setup.world.entered.wait()
    retry = asyncio.create_task(post(setup, idem, "bolt"))
    await asyncio.sleep(0.3)
    assert not retry.done()  # neither refused nor run a second time: it waits
    setup.world.release.set()
    answers = await asyncio.gather(first, retry)
    assert [a.status_code for a in answers] == [201, 201]
    assert answers[0].json() == answers[1].json() == {"n": 1, "name": "bolt"}
    assert setup.world.calls == ["bolt"]


async def test_given_many_concurrent_sends_of_one_request_then_it_runs_once_and_all_get_one_answer(
    setup: Setup,
) -> None:
    idem = key()
    answers = await asyncio.gather(*(post(setup, idem, "bolt") for _ in range(8)))
    assert {a.status_code for a in answers} == {201}
    assert {json.dumps(a.json()) for a in answers} == {'{"n": 1, "name": "bolt"}'}
    assert setup.world.calls == ["bolt"]


async def test_given_a_request_still_running_past_the_wait_then_the_retry_is_503_with_retry_after(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    setup = await started(sessions, wait=0.2)
    async with setup.client:
        idem = key()
        setup.world.release.clear()
        first = asyncio.create_task(post(setup, idem, "bolt"))
        await setup.world.entered.wait()
        busy = await post(setup, idem, "bolt")
        assert busy.status_code == 503
        assert busy.headers["content-type"] == "application/problem+json"
        assert busy.json()["code"] == "unavailable"
        assert busy.headers["retry-after"] == "1"
        setup.world.release.set()
        assert (await first).status_code == 201
        later = await post(setup, idem, "bolt")
        assert (later.status_code, later.json()) == (201, {"n": 1, "name": "bolt"})
        assert later.headers["idempotent-replayed"] == "true"
        assert setup.world.calls == ["bolt"]


@pytest.mark.parametrize("outcome", ["error", "crash", "busy"])
async def test_given_a_5xx_or_429_answer_when_retried_with_its_key_then_the_request_runs_again(
    setup: Setup, outcome: str
) -> None:
    idem = key()
    setup.world.outcomes = [outcome]
    failed = await post(setup, idem, "bolt")
    assert failed.status_code == {"error": 500, "crash": 500, "busy": 429}[outcome]
    assert await rows(setup, idem) == []
    retried = await post(setup, idem, "bolt")
    assert (retried.status_code, retried.json()) == (201, {"n": 2, "name": "bolt"})
    assert "idempotent-replayed" not in retried.headers
    assert setup.world.calls == ["bolt", "bolt"]


async def test_given_a_4xx_answer_when_retried_with_its_key_then_the_refusal_is_replayed(
    setup: Setup,
) -> None:
    idem = key()
    setup.world.outcomes = ["refuse"]
    refused = await post(setup, idem, "bolt")
    again = await post(setup, idem, "bolt")
    assert (refused.status_code, refused.json()["code"]) == (409, "invalid_state")
    assert (again.status_code, again.json()) == (409, refused.json())
    assert again.headers["content-type"] == "application/problem+json"
    assert setup.world.calls == ["bolt"]


async def test_keys_are_per_caller_the_same_key_from_another_caller_is_its_own_request(
    setup: Setup,
) -> None:
    idem = key()
    by_ops = await post(setup, idem, "bolt", OPS)
    by_platform = await post(setup, idem, "nut", PLATFORM)
    assert by_ops.json() == {"n": 1, "name": "bolt"}
    assert by_platform.json() == {"n": 2, "name": "nut"}
    assert [row.scope for row in await rows(setup, idem)] == ["ops", "platform"]


async def test_without_a_valid_api_key_nothing_is_kept_and_the_route_answers_401(
    setup: Setup,
) -> None:
    idem = key()
    answer = await post(setup, idem, "bolt", {"Authorization": "Bearer vk_nobody"})
    assert (answer.status_code, answer.json()["code"]) == (401, "unauthorized")
    assert await rows(setup, idem) == []
    assert setup.world.calls == []


@pytest.mark.parametrize("bad", ["k" * 256, "tab\there"])
async def test_a_key_too_long_or_with_control_characters_is_422_and_the_route_does_not_run(
    setup: Setup, bad: str
) -> None:
    answer = await post(setup, bad, "bolt")
    assert answer.status_code == 422
    assert answer.json()["code"] == "validation_error"
    assert answer.json()["errors"][0]["loc"] == ["header", "Idempotency-Key"]
    assert setup.world.calls == []


async def test_given_an_expired_answer_then_the_key_is_free_again_and_expired_rows_are_purged(
    setup: Setup,
) -> None:
    idem, stale = key(), key()
    assert (await post(setup, idem, "bolt")).status_code == 201
    assert (await post(setup, stale, "old")).status_code == 201
    async with setup.sessions() as session:
        await execute_sql(
            session,
            text(
                "UPDATE idempotency_record SET expires_at = now() - interval '1 second'"
                " WHERE key IN (:a, :b)"
            ),
            {"a": idem, "b": stale},
        )
        await session.commit()
    # Past its retention the key binds nothing: another body is a new request.
    reused = await post(setup, idem, "nut")
    assert (reused.status_code, reused.json()) == (201, {"n": 3, "name": "nut"})
    # ... and the claim that took it purged the other expired row.
    assert await rows(setup, stale) == []
    (row,) = await rows(setup, idem)
    assert json.loads(opened(row, idem)) == {"n": 3, "name": "nut"}


async def test_given_a_claim_abandoned_by_a_dead_process_then_the_same_request_takes_it_over(
    setup: Setup,
) -> None:
    idem = key()
    body = json.dumps({"name": "bolt"}).encode()
    async with setup.sessions() as session:
        await execute_sql(
            session,
            text(
                "INSERT INTO idempotency_record (scope, key, method, path, fingerprint,"
                " claim_token, created_at, lease_until, expires_at) VALUES ('ops', :key, 'POST',"
                " '/v1/things', :fp, 'dead', now(), now() - interval '1 second',"
                " now() + interval '1 day')"
            ),
            {"key": idem, "fp": request_fingerprint("POST", "/v1/things", "", body)},
        )
        await session.commit()
    other = await post(setup, idem, "nut")
    assert (other.status_code, other.json()["code"]) == (422, "idempotency_key_reused")
    taken = await post(setup, idem, "bolt")
    assert (taken.status_code, taken.json()) == (201, {"n": 1, "name": "bolt"})
    assert setup.world.calls == ["bolt"]


async def test_a_route_with_keys_of_its_own_answers_its_retries_but_another_body_is_422(
    setup: Setup,
) -> None:
    idem = key()
    headers = {**OPS, "Idempotency-Key": idem}
    first = await setup.client.post("/v1/own-keys", json={"name": "bolt"}, headers=headers)
    again = await setup.client.post("/v1/own-keys", json={"name": "bolt"}, headers=headers)
    other = await setup.client.post("/v1/own-keys", json={"name": "nut"}, headers=headers)
    assert (first.json(), again.json()) == ({"n": 1}, {"n": 2})  # the route's own business
    assert (other.status_code, other.json()["code"]) == (422, "idempotency_key_reused")
    assert setup.world.calls == ["bolt", "bolt"]
    (row,) = await rows(setup, idem)
    assert (row.status_code, row.response_body) == (None, None)


async def test_requests_without_a_key_run_every_time(setup: Setup) -> None:
    first = await post(setup, None, "bolt")
    second = await post(setup, None, "bolt")
    assert [first.json()["n"], second.json()["n"]] == [1, 2]


async def test_with_postgresql_down_a_keyed_request_is_503_with_retry_after_and_does_not_run(
    stack: DevStack,
) -> None:
    closed = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/fulfillment"
    engine = make_engine(closed, pool_size=1)
    try:
        setup = await started(make_sessionmaker(engine), wait=1.0)
        async with setup.client:
            answer = await post(setup, key(), "bolt")
    finally:
        await engine.dispose()
    assert answer.status_code == 503
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.headers["retry-after"] == "5"
    assert answer.json()["code"] == "unavailable"
    assert answer.json()["detail"] == "the database is not answering; retry in a few seconds"
    assert setup.world.calls == []
