"""Liveness of the parts the API depends on, and Prometheus metrics."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from sqlalchemy import text

from api.errors import Problem
from api.metrics_dir import multiprocess
from domain.errors import ErrorCode
from stores.db import execute_sql

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz(request: Request) -> dict[str, str]:
    state = request.app.state
    failing = []
    for name, check in (
        ("database", _database(state)),
        ("redis", state.redis.ping()),
        ("temporal", state.temporal.service_client.check_health()),
    ):
        try:
            await asyncio.wait_for(check, timeout=3)
        except Exception:
            failing.append(name)
    if failing:
        raise Problem(
            ErrorCode.UNAVAILABLE, f"not answering: {', '.join(failing)}", failing=failing
        )
    return {"status": "ok"}


async def _database(state: object) -> None:
    async with state.sessions() as session:  # type: ignore[attr-defined]
        await execute_sql(session, text("SELECT 1"))


@router.get("/metrics", include_in_schema=False)
async def metrics() -> Response:
    if not multiprocess():
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
    # Several API processes (api/metrics_dir.py): the sum of all of theirs, read from their
    # files, whichever process answers the scrape.
    registry = CollectorRegistry()
    MultiProcessCollector(registry)
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
