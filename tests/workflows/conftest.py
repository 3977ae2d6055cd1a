from __future__ import annotations

import shutil
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from temporal import search_attributes as sa
from tests.workflows.fakes import FakeWorld, world
from tests.workflows.timed_orders import DAY
from workflows.registry import WORKFLOWS


def temporal_cli() -> str:
    found = Path(sys.executable).parent / "temporal"
    return str(found) if found.exists() else str(shutil.which("temporal"))


async def time_skipping_environment() -> WorkflowEnvironment:
    # Time skipping on the dev server (v2): unlike the Java test server it takes
    # update-with-start, which checkout relies on.
    return await WorkflowEnvironment.start_time_skipping_v2(
        dev_server_existing_path=temporal_cli(),
        search_attributes=sa.ALL,
        data_converter=pydantic_data_converter,
        dev_server_extra_args=[
            "--dynamic-config-value",
            "frontend.WorkflowTimeSkippingEnabled=true",
        ],
    )


@pytest.fixture(scope="session")
async def env() -> AsyncIterator[WorkflowEnvironment]:
    environment = await time_skipping_environment()
    try:
        yield environment
    finally:
        await environment.shutdown()


@pytest.fixture
def task_queue() -> str:
    return f"tq-{uuid.uuid4().hex[:12]}"


@pytest.fixture
async def fake(env: WorkflowEnvironment, task_queue: str) -> AsyncIterator[FakeWorld]:
    """A fresh fake world, its activities served by a worker on this test's task queue."""
    the_world = world()
    async with Worker(
        env.client, task_queue=task_queue, workflows=WORKFLOWS, activities=the_world.activities()
    ):
        yield the_world


@pytest.fixture
def vendor_a_ships_within_a_day(fake: FakeWorld) -> None:
    """Vendor A ships within a day; vendor B has no SLA timers in these tests' orders (the ship
    SLA, parcels in transit, platform labels, cancellation and returns tests)."""
    fake.catalog["BRAKE-01"].ship_sla_seconds = DAY
