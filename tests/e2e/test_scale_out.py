"""The API and the worker scale out (issue 10): the API serves one port from several
processes, and any number of workers poll the task queue."""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

import httpx

from devstack import free_port
from devstack.process import ManagedProcess
from devstack.stack import ROOT, DevStack
from tests.e2e.client import PLATFORM, onboard, order_body, place, stock_product
from tests.metrics_helpers import scrape, value

CHECKOUTS = "fulfillment_checkouts_total"


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


async def test_the_api_answers_from_several_processes_on_one_port(
    stack: DevStack, api: httpx.AsyncClient, tmp_path: Path
) -> None:
    # Given the API started with two worker processes beside the stack's own
    port = free_port()
    env = {**stack.env, "FULFILLMENT_API_WORKERS": "2", "FULFILLMENT_API_PORT": str(port)}
    served = ManagedProcess.start(
        "api-x2", [sys.executable, "-m", "cli", "api"], tmp_path / "api.log", env=env, cwd=ROOT
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        async with httpx.AsyncClient(base_url=base, timeout=60) as scaled:
            while True:
                try:
                    if (await scaled.get("/healthz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, served.log_tail()
                await asyncio.sleep(0.2)
            # Then two processes serve it (uvicorn's workers, children of the one started)
            assert len(_children(served.pid)) >= 2, served.log_tail()
            # And a checkout through it is an order like any other
            seller = await onboard(api, "TwoApis")
            sku = await stock_product(api, seller, price_cents=900, on_hand=2)
            answers = [await place(scaled, order_body([(sku, 1)])) for _ in range(2)]
            assert [a.status_code for a in answers] == [201, 201]
            level = (await api.get(f"/v1/inventory/{sku}", headers=PLATFORM)).json()
            assert level["reserved"] == 2
            # And every scrape counts both processes' requests, whichever process answers it
            # (api/metrics_dir.py): eight scrapes, the same totals each time.
            confirmed = [
                value(await scrape(f"{base}/metrics"), CHECKOUTS, {"outcome": "confirmed"})
                for _ in range(8)
            ]
            assert confirmed == [2.0] * 8
            served_ok = value(
                await scrape(f"{base}/metrics"),
                "fulfillment_http_requests_total",
                {"route": "/v1/orders", "status": "201"},
            )
            assert served_ok == 2.0
    finally:
        served.stop()
