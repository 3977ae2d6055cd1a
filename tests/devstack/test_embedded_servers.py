"""The embedded servers keep their data across restarts and leave no process behind."""

from __future__ import annotations

import asyncio
import functools
import os
import signal
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import psutil
import psycopg
import pytest
import redis
from temporalio import workflow
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.testing import TimeSkipper, TimeSkippingConfig
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from devstack import (
    ManagedProcess,
    ServerStartError,
    free_port,
    start_postgres,
    start_redis,
    start_temporal,
    wait_for_port,
    wait_until,
)

SEARCH_ATTRIBUTES = {
    "OrderStatus": "Keyword",
    "CustomerId": "Keyword",
    "VendorIds": "KeywordList",
    "OrderTotal": "Int",
    "AttentionNeeded": "Keyword",
    "WaitingSince": "Datetime",
    "VendorId": "Keyword",
}
EXPECTED_TYPES = {
    "OrderStatus": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
    "CustomerId": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
    "VendorIds": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD_LIST,
    "OrderTotal": IndexedValueType.INDEXED_VALUE_TYPE_INT,
    "AttentionNeeded": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
    "WaitingSince": IndexedValueType.INDEXED_VALUE_TYPE_DATETIME,
    "VendorId": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
}


class Started:
    """Every process the tests start, so that none outlives the module."""

    def __init__(self) -> None:
        self.processes: list[ManagedProcess] = []
        self.foreign_pids: list[int] = []

    def track(self, process: ManagedProcess) -> ManagedProcess:
        self.processes.append(process)
        return process


@pytest.fixture(scope="module")
def started() -> Iterator[Started]:
    ours_before = {child.pid for child in psutil.Process().children(recursive=True)}
    registry = Started()
    yield registry
    for process in registry.processes:
        process.stop(timeout=5)
    left = [p.pid for p in registry.processes if _alive(p.pid)]
    left += [pid for pid in registry.foreign_pids if not _gone_within(pid, 10)]
    left += [
        child.pid
        for child in psutil.Process().children(recursive=True)
        if child.pid not in ours_before and _alive(child.pid)
    ]
    assert left == [], f"processes left running: {left}"


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _gone_within(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while _alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _listening_addresses(pid: int) -> set[str]:
    connections = psutil.Process(pid).net_connections(kind="inet")
    return {c.laddr.ip for c in connections if c.status == psutil.CONN_LISTEN}


def test_postgres_keeps_a_committed_table_across_a_clean_restart(
    tmp_path_factory: pytest.TempPathFactory, started: Started
) -> None:
    data_dir = tmp_path_factory.mktemp("pg-clean") / "data"
    port = free_port()

    first = start_postgres(data_dir, port)
    started.track(first.process)
    assert _listening_addresses(first.process.pid) == {"127.0.0.1"}
    with psycopg.connect(first.url(driver="postgresql")) as conn:
        conn.execute("CREATE TABLE parcels (id int PRIMARY KEY, carrier text)")
        conn.execute("INSERT INTO parcels VALUES (1, 'shippo')")
    first.stop()
    first.stop()
    assert not _alive(first.process.pid)
    assert first.process.returncode == 0

    second = start_postgres(data_dir, port)
    started.track(second.process)
    with psycopg.connect(second.url(driver="postgresql")) as conn:
        rows = conn.execute("SELECT id, carrier FROM parcels").fetchall()
    second.stop()

    assert rows == [(1, "shippo")]
    assert second.url() == f"postgresql+psycopg://postgres@127.0.0.1:{port}/fulfillment"
    assert not _alive(second.process.pid)


def test_postgres_starts_again_after_its_postmaster_was_killed(
    tmp_path_factory: pytest.TempPathFactory, started: Started
) -> None:
    data_dir = tmp_path_factory.mktemp("pg-killed") / "data"
    port = free_port()
    first = start_postgres(data_dir, port, database="orders")
    started.track(first.process)
    with psycopg.connect(first.url("orders", driver="postgresql")) as conn:
        conn.execute("CREATE TABLE stock (sku text PRIMARY KEY, on_hand int)")
        conn.execute("INSERT INTO stock VALUES ('SKU-1', 7)")
    backends = [child.pid for child in psutil.Process(first.process.pid).children()]
    started.foreign_pids.extend(backends)

    os.kill(first.process.pid, signal.SIGKILL)
    assert first.process.stop() == -signal.SIGKILL
    first.stop()
    assert (data_dir / "postmaster.pid").exists()

    second = start_postgres(data_dir, port, database="orders")
    started.track(second.process)
    with psycopg.connect(second.url("orders", driver="postgresql")) as conn:
        rows = conn.execute("SELECT sku, on_hand FROM stock").fetchall()
    second.stop()

    assert rows == [("SKU-1", 7)]
    assert not _alive(second.process.pid)
    assert [pid for pid in backends if not _gone_within(pid, 10)] == []


def test_postgres_starts_when_a_stale_lock_names_a_live_process_of_its_user(
    tmp_path_factory: pytest.TempPathFactory, started: Started
) -> None:
    # PostgreSQL would take that process, which reused the dead postmaster's PID, for a
    # postmaster still running, and refuse to start.
    data_dir = tmp_path_factory.mktemp("pg-reused-pid") / "data"
    port = free_port()
    first = start_postgres(data_dir, port)
    started.track(first.process)
    os.kill(first.process.pid, signal.SIGKILL)
    first.stop()
    server_user = "embedded_postgres" if os.geteuid() == 0 else None
    impostor = started.track(
        ManagedProcess.start(
            "impostor", ["sleep", "60"], data_dir.parent / "impostor.log", user=server_user
        )
    )
    lock = data_dir / "postmaster.pid"
    lock.write_text("\n".join([str(impostor.pid), *lock.read_text().split("\n")[1:]]))

    second = start_postgres(data_dir, port)
    started.track(second.process)
    second.stop()
    impostor.stop()

    assert second.process.returncode == 0
    assert not _alive(second.process.pid)


def test_postgres_refuses_a_data_dir_whose_server_still_runs(
    tmp_path_factory: pytest.TempPathFactory, started: Started
) -> None:
    data_dir = tmp_path_factory.mktemp("pg-twice") / "data"
    running = start_postgres(data_dir, free_port())
    started.track(running.process)

    with pytest.raises(ServerStartError, match=f"PID {running.process.pid}"):
        start_postgres(data_dir, free_port())
    running.stop()

    assert running.process.returncode == 0


def test_redis_keeps_a_key_across_a_restart(
    tmp_path_factory: pytest.TempPathFactory, started: Started
) -> None:
    data_dir = tmp_path_factory.mktemp("redis")
    port = free_port()

    first = start_redis(data_dir, port)
    started.track(first.process)
    assert _listening_addresses(first.process.pid) == {"127.0.0.1"}
    with redis.Redis.from_url(first.url()) as client:
        client.set("stock:SKU-1", 7)
    first.stop()
    assert not _alive(first.process.pid)

    second = start_redis(data_dir, port)
    started.track(second.process)
    with redis.Redis.from_url(second.url(3)) as other_db, redis.Redis.from_url(second.url()) as db:
        value, elsewhere = db.get("stock:SKU-1"), other_db.get("stock:SKU-1")
    second.stop()

    assert (value, elsewhere) == (b"7", None)
    assert (data_dir / "appendonly.aof").exists()
    assert not _alive(second.process.pid)


def test_a_server_is_not_started_on_a_port_another_one_listens_on(
    tmp_path_factory: pytest.TempPathFactory, started: Started
) -> None:
    data_dir = tmp_path_factory.mktemp("redis-busy")
    holder = start_redis(data_dir / "holder", free_port())
    started.track(holder.process)

    with pytest.raises(ServerStartError, match=f"127.0.0.1:{holder.port} is in use"):
        start_redis(data_dir / "second", holder.port)
    holder.stop()

    assert not (data_dir / "second" / "redis.log").exists()


def test_a_server_that_dies_while_starting_is_reported_with_its_log(
    tmp_path: Path, started: Started
) -> None:
    script = "import sys; print('FATAL: bad setting', flush=True); sys.exit(3)"
    process = started.track(
        ManagedProcess.start("broken", [sys.executable, "-c", script], tmp_path / "broken.log")
    )

    with pytest.raises(ServerStartError) as raised:
        wait_for_port("127.0.0.1", free_port(), 30, process)

    assert "broken exited with code 3" in str(raised.value)
    assert str(raised.value).endswith("FATAL: bad setting")
    assert process.stop() == 3


async def test_temporal_keeps_search_attributes_and_workflows_across_a_restart(
    tmp_path_factory: pytest.TempPathFactory, started: Started
) -> None:
    data_dir = tmp_path_factory.mktemp("temporal")
    port, ui_port = free_port(), free_port()
    workflow_id = f"order-{uuid.uuid4()}"

    # Off the event loop, which the session's other async fixtures share.
    first = await asyncio.to_thread(start_temporal, data_dir, port, ui_port, SEARCH_ATTRIBUTES)
    started.track(first.process)
    assert (first.address, first.ui_url) == (f"127.0.0.1:{port}", f"http://127.0.0.1:{ui_port}")
    assert _listening_addresses(first.process.pid) == {"127.0.0.1"}
    client = await Client.connect(first.address)
    # No worker polls this queue: the workflow simply stays open.
    await client.start_workflow("NoSuchWorkflow", id=workflow_id, task_queue=workflow_id)
    await asyncio.to_thread(first.stop)
    assert not _alive(first.process.pid)

    second = await asyncio.to_thread(start_temporal, data_dir, port, None, SEARCH_ATTRIBUTES)
    started.track(second.process)
    client = await Client.connect(second.address)
    description = await client.get_workflow_handle(workflow_id).describe()
    listed = await client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace="default")
    )
    await asyncio.to_thread(second.stop)

    assert description.status == WorkflowExecutionStatus.RUNNING
    assert description.workflow_type == "NoSuchWorkflow"
    assert {n: listed.custom_attributes.get(n) for n in EXPECTED_TYPES} == EXPECTED_TYPES
    assert second.ui_url is None
    assert not _alive(second.process.pid)


def test_waiting_stops_at_once_when_the_check_says_the_server_will_never_come_up() -> None:
    calls: list[float] = []

    def check() -> bool:
        calls.append(time.monotonic())
        raise ServerStartError("api exited")

    with pytest.raises(ServerStartError, match="api exited"):
        wait_until(check, timeout=30, what="the API")

    assert len(calls) == 1


@workflow.defn(name="ReturnWindow")
class ReturnWindow:
    @workflow.run
    async def run(self) -> str:
        await workflow.sleep(timedelta(days=14))
        return "window closed"


async def test_temporal_in_memory_with_time_skipping_skips_a_two_week_timer(
    started: Started,
) -> None:
    server = await asyncio.to_thread(
        functools.partial(
            start_temporal,
            None,
            free_port(),
            None,
            SEARCH_ATTRIBUTES,
            namespace="marketplace",
            time_skipping=True,
        )
    )
    started.track(server.process)
    client = await Client.connect(server.address, namespace="marketplace")
    listed = await client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace="marketplace")
    )
    skipper = TimeSkipper(client, config=TimeSkippingConfig())
    queue = f"return-window-{uuid.uuid4()}"
    # The workflow is defined here only to prove the server flag; no sandbox needed.
    async with Worker(
        skipper.client,
        task_queue=queue,
        workflows=[ReturnWindow],
        workflow_runner=UnsandboxedWorkflowRunner(),
    ):
        handle = await skipper.client.start_workflow(ReturnWindow.run, id=queue, task_queue=queue)
        result = await asyncio.wait_for(handle.result(), timeout=20)
    await asyncio.to_thread(server.stop)

    assert result == "window closed"
    assert {n: listed.custom_attributes.get(n) for n in EXPECTED_TYPES} == EXPECTED_TYPES
    assert server.scratch_dir is not None and not server.scratch_dir.exists()
    assert not _alive(server.process.pid)


def test_a_search_attribute_cannot_change_type_on_an_existing_database(
    tmp_path_factory: pytest.TempPathFactory, started: Started
) -> None:
    data_dir: Path = tmp_path_factory.mktemp("temporal-clash")
    port = free_port()
    first = start_temporal(data_dir, port, None, {"OrderTotal": "Int"})
    started.track(first.process)
    first.stop()

    with pytest.raises(ServerStartError, match="OrderTotal"):
        start_temporal(data_dir, port, None, {"OrderTotal": "Keyword"})
