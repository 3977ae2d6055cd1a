"""Every answer says how long the app took (Server-Timing) and is counted by route template."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from prometheus_client import REGISTRY

from api.request_metrics import RequestMetrics, app_milliseconds, server_timing


def _app() -> FastAPI:
    app = FastAPI()

    @app.get("/things/{thing_id}")
    async def thing(thing_id: str) -> dict[str, str]:
        return {"id": thing_id}

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("boom")

    app.add_middleware(RequestMetrics)
    return app


def _count(route: str, status: str) -> float:
    value = REGISTRY.get_sample_value(
        "fulfillment_http_requests_total", {"route": route, "status": status}
    )
    return value or 0.0


async def test_an_answer_carries_the_apps_own_time_in_server_timing() -> None:
    transport = httpx.ASGITransport(app=_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        answer = await client.get("/things/t1")
    assert answer.status_code == 200
    spent = app_milliseconds(answer.headers.get("server-timing"))
    assert spent is not None and 0.0 <= spent < 5000.0


async def test_requests_are_counted_by_route_template_not_by_path() -> None:
    before = _count("/things/{thing_id}", "200")
    transport = httpx.ASGITransport(app=_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        await client.get("/things/a")
        await client.get("/things/b")
        missing = await client.get("/nowhere")
    assert _count("/things/{thing_id}", "200") == before + 2
    assert missing.status_code == 404


async def test_a_request_the_app_fails_on_is_counted_as_a_500() -> None:
    before = _count("/boom", "500")
    transport = httpx.ASGITransport(app=_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        answer = await client.get("/boom")
    assert answer.status_code == 500
    assert _count("/boom", "500") == before + 1


def test_server_timing_is_read_back_in_milliseconds() -> None:
    assert app_milliseconds(server_timing(0.0123).decode()) == 12.3
    assert app_milliseconds('db;dur=3, app;desc="x";dur=7.5') == 7.5
    assert app_milliseconds("db;dur=3") is None
    assert app_milliseconds(None) is None
    assert app_milliseconds("app;dur=soon") is None
