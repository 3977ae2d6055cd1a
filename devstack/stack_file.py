"""Where a running dev stack can be found: `<data dir>/devstack.json`.

`fulfillment dev` (and the tests' stack) writes it once everything answers and removes it when
it stops. The other `fulfillment` commands read it for the services whose variables are unset,
so the README's commands work against `make run` with nothing set, and they say which servers
they talk to. Variables always win; outside dev the file is never read. It holds only dev
values (services the stack started itself, the default dev keys) and is readable by its owner
only (0600).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from devstack.process import port_is_open
from models.settings import DEV_ENVS

FILE_NAME = "devstack.json"
DATA_DIR_VARIABLE = "FULFILLMENT_DATA_DIR"
DEFAULT_DATA_DIR = ".data"

# What a command may take from the file. Each group is taken whole or not at all: a Stripe key
# from the environment with the emulator's address from the file would be neither.
GROUPS: tuple[tuple[str, ...], ...] = (
    ("DATABASE_URL",),
    ("REDIS_URL",),
    ("TEMPORAL_ADDRESS",),
    ("STRIPE_API_BASE", "STRIPE_API_KEY"),
    ("SHIPPO_API_BASE", "SHIPPO_API_KEY"),
    ("FULFILLMENT_PLATFORM_KEY",),
    ("FULFILLMENT_OPS_KEY",),
    ("STRIPE_WEBHOOK_SECRET",),
    ("SHIPPO_WEBHOOK_TOKEN",),
    ("FULFILLMENT_TASK_QUEUE",),
)
# The servers a command talks to, by the variable that names them, as people call them.
SERVERS = (
    ("PostgreSQL", "DATABASE_URL"),
    ("Redis", "REDIS_URL"),
    ("Temporal", "TEMPORAL_ADDRESS"),
    ("Stripe", "STRIPE_API_BASE"),
    ("Shippo", "SHIPPO_API_BASE"),
)

# Where the settings (models/settings.py) and the SDKs go when nothing is set.
_DEFAULTS = {
    "DATABASE_URL": "postgresql://127.0.0.1:5432",
    "REDIS_URL": "redis://127.0.0.1:6379",
    "TEMPORAL_ADDRESS": "127.0.0.1:7233",
    "STRIPE_API_BASE": "https://api.stripe.com",
    "SHIPPO_API_BASE": "https://api.goshippo.com",
}


class DevStackNotRunning(RuntimeError):
    """The file describes a stack that is gone (a crash left it behind)."""


@dataclass(frozen=True)
class StackFile:
    started_at: str
    # The process that runs the stack (and stops every server in it).
    pid: int
    api_url: str
    variables: dict[str, str]

    def to_json(self) -> dict[str, Any]:
        return {
            "started_at": self.started_at,
            "pid": self.pid,
            "api_url": self.api_url,
            "variables": self.variables,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> StackFile:
        return cls(
            started_at=str(data["started_at"]),
            pid=int(data["pid"]),
            api_url=str(data["api_url"]),
            variables={str(k): str(v) for k, v in dict(data["variables"]).items()},
        )

    def why_not_running(self) -> str | None:
        """None when the stack answers: the process that runs it is alive (it alone starts
        and stops the servers; the worker may be restarted under it) and its servers listen."""
        if not _pid_alive(self.pid):
            return f"its process (pid {self.pid}) is gone"
        for name, variable in SERVERS:
            value = self.variables.get(variable)
            if value is None:
                continue
            where = host_port(value)
            if where is None or not port_is_open(*where, timeout=1):
                return f"{name} at {display(value)} does not answer"
        return None


def data_dir_of(environ: Mapping[str, str], given: str | None = None) -> Path:
    return Path(given or environ.get(DATA_DIR_VARIABLE) or DEFAULT_DATA_DIR)


def path_in(data_dir: Path) -> Path:
    return data_dir / FILE_NAME


def write(data_dir: Path, stack: StackFile) -> Path:
    """Write the file whole (a reader never sees half of it), readable by its owner only."""
    path = path_in(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    # Created 0600 under a name of this process's own, then renamed over the old file.
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(json.dumps(stack.to_json()))
    os.replace(temporary, path)
    return path


def remove(data_dir: Path, pid: int) -> None:
    """Remove the file if it describes the stack run by `pid` (not a newer one's)."""
    try:
        found = read(data_dir)
    except DevStackNotRunning:
        found = None
    if found is not None and found.pid == pid:
        path_in(data_dir).unlink(missing_ok=True)


def read(data_dir: Path) -> StackFile | None:
    try:
        raw = path_in(data_dir).read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    try:
        return StackFile.from_json(json.loads(raw))
    except (ValueError, KeyError, TypeError) as error:
        raise DevStackNotRunning(
            f"{path_in(data_dir)} is not a dev stack file ({error}); remove it"
        ) from None


@dataclass(frozen=True)
class Chosen:
    """What a command uses: the stack it found (if any) and the variables it took from it."""

    stack: StackFile | None
    path: Path
    taken: tuple[str, ...]


def use(environ: MutableMapping[str, str], data_dir: Path) -> Chosen | None:
    """Fill the unset variables from the running dev stack described in `data_dir`.

    None outside dev (the file is never read there). Raises DevStackNotRunning when the
    variables would come from a stack that is gone."""
    if environ.get("FULFILLMENT_ENV", "dev") not in DEV_ENVS:
        return None
    path = path_in(data_dir)
    stack = read(data_dir)
    if stack is None:
        return Chosen(None, path, ())
    taken = tuple(
        name
        for group in GROUPS
        if all(name not in environ for name in group)
        and all(name in stack.variables for name in group)
        for name in group
    )
    if not taken:
        return Chosen(stack, path, ())
    why = stack.why_not_running()
    if why is not None:
        raise DevStackNotRunning(
            f"the dev stack is not running: {path} says it was started at {stack.started_at}"
            f" (pid {stack.pid}), but {why}. Start it with `make run` (it replaces the file),"
            f" or set {', '.join(taken)} to use other servers."
        )
    for name in taken:
        environ[name] = stack.variables[name]
    return Chosen(stack, path, taken)


def describe(chosen: Chosen, environ: Mapping[str, str]) -> str:
    """One line for stderr: which servers the command talks to, and why those."""
    servers, defaults = [], False
    for name, variable in SERVERS:
        value = environ.get(variable)
        if not value:
            defaults = True
            servers.append(f"{name} {display(_DEFAULTS[variable])} (default: {variable} unset)")
        elif variable in chosen.taken:
            servers.append(f"{name} {display(value)}")
        else:
            servers.append(f"{name} {display(value)} (from {variable})")
    line = ", ".join(servers)
    if chosen.stack is not None and chosen.taken:
        return (
            f"using the dev stack started at {chosen.stack.started_at} (pid {chosen.stack.pid},"
            f" {chosen.path}): {line}"
        )
    if chosen.stack is None and defaults:
        return f"no dev stack found ({chosen.path} does not exist); using {line}"
    return f"using {line}"


def host_port(value: str) -> tuple[str, int] | None:
    """Host and port of a URL (`postgresql+psycopg://u@h:p/db`) or an address (`h:p`)."""
    parts = urlsplit(value if "://" in value else f"tcp://{value}")
    try:
        port = parts.port
    except ValueError:
        return None
    if parts.hostname is None:
        return None
    port = port or {"http": 80, "https": 443}.get(parts.scheme)
    return None if port is None else (parts.hostname, port)


def display(value: str) -> str:
    """A server as people read it, never with credentials: `127.0.0.1:55432`, `http://h:p`."""
    parts = urlsplit(value if "://" in value else f"tcp://{value}")
    if parts.scheme in ("http", "https"):
        port = f":{parts.port}" if parts.port else ""
        return f"{parts.scheme}://{parts.hostname}{port}"
    where = host_port(value)
    return f"{where[0]}:{where[1]}" if where else (parts.hostname or "?")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, someone else's
        return True
    return True
