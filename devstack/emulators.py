"""The project's provider emulators (emulators/stripe, emulators/shippo) as processes: the dev
stack and the tests start them the same way."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

import httpx

from devstack.process import ManagedProcess, wait_until

ROOT = Path(__file__).resolve().parent.parent


def start_emulator(
    module: str,
    port: int,
    state_file: Path,
    log_file: Path,
    args: Sequence[str] = (),
    *,
    poll_interval: float = 0.1,
) -> ManagedProcess:
    """``python -m <module> --host 127.0.0.1 --port <port> --state-file <state_file> <args>``,
    returned once its /healthz answers."""
    name = module.rsplit(".", 1)[-1].replace("_", "-") + " emulator"
    process = ManagedProcess.start(
        name,
        [
            sys.executable,
            "-m",
            module,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--state-file",
            str(state_file),
            *args,
        ],
        log_file,
        cwd=ROOT,
    )
    try:
        wait_until(
            lambda: httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200,
            timeout=30,
            what=f"the {name}",
            process=process,
            interval=poll_interval,
        )
    except BaseException:
        process.stop()
        raise
    return process
