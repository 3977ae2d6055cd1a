"""The dev stack's saga processes run below the API's CPU priority, at a niceness one setting
chooses; a value that is not one is refused before any server starts."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from devstack import ServerStartError, wait_until
from devstack.priority import BACKGROUND_NICENESS, DEFAULT_BACKGROUND_NICENESS, background_niceness
from devstack.process import ManagedProcess, niceness_of
from devstack.stack import DevStack, Ports


def test_the_worker_and_temporal_run_at_niceness_ten_unless_told_otherwise() -> None:
    assert background_niceness({}) == DEFAULT_BACKGROUND_NICENESS == 10
    assert background_niceness({BACKGROUND_NICENESS: "0"}) == 0
    assert background_niceness({BACKGROUND_NICENESS: "19"}) == 19


@pytest.mark.parametrize("given", ["-1", "20", "ten", "", "1.5"])
def test_a_niceness_that_is_not_0_to_19_is_refused_by_name(given: str) -> None:
    with pytest.raises(ServerStartError, match=BACKGROUND_NICENESS):
        background_niceness({BACKGROUND_NICENESS: given})


def test_a_stack_given_a_bad_niceness_starts_nothing(tmp_path: Path) -> None:
    stack = DevStack(tmp_path, Ports.free(), overrides={BACKGROUND_NICENESS: "99"})
    with pytest.raises(ServerStartError, match=BACKGROUND_NICENESS):
        stack.start(log=lambda _: None)
    assert stack.pids() == {}
    assert not (tmp_path / "postgres").exists()


def test_a_server_started_nice_has_every_thread_at_that_niceness(tmp_path: Path) -> None:
    # A process that starts threads of its own after it began: each inherits the niceness.
    program = (
        "import threading, time\n"
        "for _ in range(3):\n"
        "    threading.Thread(target=time.sleep, args=(30,), daemon=True).start()\n"
        "print('up', flush=True)\n"
        "time.sleep(30)\n"
    )
    server = ManagedProcess.start(
        "threads", [sys.executable, "-c", program], tmp_path / "threads.log", niceness=6
    )
    try:
        wait_until(lambda: "up" in server.log_tail(), timeout=10, what="the threads")
        threads = list(Path(f"/proc/{server.pid}/task").iterdir())
        assert len(threads) == 4
        assert {niceness_of(int(t.name)) for t in threads} == {6}
        assert niceness_of(server.pid) == 6
    finally:
        server.stop()
