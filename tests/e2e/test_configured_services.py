"""Each service comes from its environment variable when set; only the rest is started."""

from __future__ import annotations

from pathlib import Path

import httpx

from devstack.stack import DevStack, Ports


async def test_configured_services_are_used_instead_of_starting_embedded_ones(
    tmp_path: Path, stack: DevStack
) -> None:
    configured = {
        name: stack.env[name]
        for name in (
            "DATABASE_URL",
            "REDIS_URL",
            "TEMPORAL_ADDRESS",
            "STRIPE_API_BASE",
            "SHIPPO_API_BASE",
        )
    }
    second = DevStack(
        tmp_path,
        Ports.free(),
        overrides={
            **configured,
            "STRIPE_API_KEY": stack.env["STRIPE_API_KEY"],
            "SHIPPO_API_KEY": stack.env["SHIPPO_API_KEY"],
            "FULFILLMENT_ENV": "test",
            "FULFILLMENT_TASK_QUEUE": "fulfillment-configured",
        },
    )
    started: list[str] = []
    second.start(log=started.append)
    try:
        assert [line.split(" on ")[0] for line in started] == [
            "migrating the database",
            "starting the worker and the API",
        ]
        assert {name: second.env[name] for name in configured} == configured
        async with httpx.AsyncClient(base_url=second.api_url) as api:
            assert (await api.get("/healthz")).json() == {"status": "ok"}
    finally:
        second.stop(log=lambda _: None)
    assert not (tmp_path / "postgres").exists()
