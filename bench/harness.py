"""What every benchmark's main() does around its measurement: SIGTERM turned into a clean stop,
the configured services forgotten, a temporary folder (kept on request), and the servers it
started stopped last-first whatever happens. Tested in tests/tooling/test_bench_harness.py.

    def main(argv=None):
        args = parse(argv)
        stop_on_sigterm()
        with running_stack("bench-x-", {"FULFILLMENT_TRACES": "off"}, keep=args.keep_data) as stack:
            return asyncio.run(measure(stack, args))
"""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

from bench import log
from devstack import stop_last_first
from devstack.stack import DevStack, Ports

# Services the stack would take from the environment instead of starting its own: a load
# test only ever targets the servers it started on this machine.
CONFIGURED_SERVICES = (
    "DATABASE_URL",
    "REDIS_URL",
    "TEMPORAL_ADDRESS",
    "STRIPE_API_BASE",
    "STRIPE_API_KEY",
    "SHIPPO_API_BASE",
    "SHIPPO_API_KEY",
)
STACK_KEPT = "the stack's folder (logs under logs/) is kept"


def _exit_on_signal(signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def stop_on_sigterm() -> None:
    """SIGTERM ends the run as Ctrl-C does: an exception in the main thread (SystemExit, with
    the shell's code for a signal, 128 + 15) that unwinds through every `finally`, so each
    server started is stopped. Python's default for SIGTERM would leave them running."""
    signal.signal(signal.SIGTERM, _exit_on_signal)


def forget_configured_services(environ: MutableMapping[str, str] = os.environ) -> None:
    """Remove CONFIGURED_SERVICES from the environment (and from what the stack's servers
    inherit), so that the stack starts its own of each."""
    for name in CONFIGURED_SERVICES:
        environ.pop(name, None)


@contextmanager
def scratch_folder(prefix: str, *, keep: bool = False, kept: str = STACK_KEPT) -> Iterator[Path]:
    """A new temporary folder, removed afterwards unless `keep` (`--keep-data`): then its
    path is logged after `kept`, for the logs in it."""
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield folder
    finally:
        if keep:
            log(f"{kept}: {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)


class Servers:
    """Servers a benchmark started, each with how to stop it."""

    def __init__(self) -> None:
        self._stops: list[tuple[str, Callable[[], object]]] = []

    def add(self, name: str, stop: Callable[[], object]) -> None:
        self._stops.append((name, stop))

    def stop_all(self) -> None:
        """Last started, first stopped; one that cannot be stopped does not keep the others
        up (devstack.stop_last_first, as the dev stack stops its own)."""
        stop_last_first(self._stops, log)


@contextmanager
def servers() -> Iterator[Servers]:
    """Every server added inside the block is stopped when it is left, however."""
    started = Servers()
    try:
        yield started
    finally:
        started.stop_all()


@contextmanager
def running_stack(
    prefix: str,
    overrides: Mapping[str, str],
    *,
    keep: bool = False,
    worker_processes: int = 1,
) -> Iterator[DevStack]:
    """The whole dev stack (PostgreSQL, Redis, Temporal, the emulators, the worker and the
    API) on free ports of 127.0.0.1, with `FULFILLMENT_ENV=test` and `overrides`, in a
    scratch folder (its `data_dir`); the configured services are forgotten first. Stopped,
    and the folder removed unless `keep`, when the block is left."""
    forget_configured_services()
    with scratch_folder(prefix, keep=keep) as folder:
        stack = DevStack(
            folder,
            Ports.free(),
            overrides={"FULFILLMENT_ENV": "test", **overrides},
            worker_processes=worker_processes,
        )
        try:
            stack.start(log=log)
            yield stack
        finally:
            stack.stop(log=log)
