"""The dev stack's file (devstack/stack_file.py): variables always win, outside dev it is
never read, a stack that is gone is refused clearly, and it never shows credentials."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from devstack import stack_file
from devstack.stack_file import Chosen, DevStackNotRunning, StackFile

EMULATED = {
    "DATABASE_URL": "postgresql+psycopg://postgres@127.0.0.1:1/fulfillment",
    "STRIPE_API_BASE": "http://127.0.0.1:2",
    "STRIPE_API_KEY": "sk_test_fulfillment_dev",
    "FULFILLMENT_OPS_KEY": "dev-ops-key",
}


def dead_pid() -> int:
    """The pid of a process that has exited and been reaped."""
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], check=True,
                          capture_output=True, text=True)  # fmt: skip
    return int(done.stdout)


def a_stack_file(pid: int) -> StackFile:
    return StackFile("2026-12-01T10:00:00+00:00", pid, "http://127.0.0.1:3", dict(EMULATED))


def test_the_file_is_written_for_its_owner_only_and_read_back_whole(tmp_path: Path) -> None:
    path = stack_file.write(tmp_path, a_stack_file(4242))

    assert path == tmp_path / "devstack.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stack_file.read(tmp_path) == a_stack_file(4242)


def test_a_stack_removes_only_its_own_file(tmp_path: Path) -> None:
    stack_file.write(tmp_path, a_stack_file(4242))

    stack_file.remove(tmp_path, 4343)
    assert stack_file.read(tmp_path) == a_stack_file(4242)
    stack_file.remove(tmp_path, 4242)
    assert stack_file.read(tmp_path) is None


def test_outside_dev_the_file_is_never_read_even_when_it_is_stale(tmp_path: Path) -> None:
    stack_file.write(tmp_path, a_stack_file(dead_pid()))
    environ = {"FULFILLMENT_ENV": "production"}

    assert stack_file.use(environ, tmp_path) is None
    assert environ == {"FULFILLMENT_ENV": "production"}


def test_variables_set_win_and_nothing_is_taken_so_a_stale_file_is_not_even_checked(
    tmp_path: Path,
) -> None:
    stack_file.write(tmp_path, a_stack_file(dead_pid()))
    # Half of the Stripe pair is set: the pair is not taken from the file.
    environ = {
        "DATABASE_URL": "postgresql+psycopg://me@db.internal:5432/x",
        "STRIPE_API_KEY": "sk_test_mine",
        "FULFILLMENT_OPS_KEY": "mine",
    }
    before = dict(environ)

    chosen = stack_file.use(environ, tmp_path)

    assert chosen is not None and chosen.taken == ()
    assert environ == before


def test_a_stack_whose_process_is_gone_is_refused_with_what_to_do(tmp_path: Path) -> None:
    pid = dead_pid()
    stack_file.write(tmp_path, a_stack_file(pid))
    environ: dict[str, str] = {}

    with pytest.raises(DevStackNotRunning) as refused:
        stack_file.use(environ, tmp_path)

    message = str(refused.value)
    assert message.startswith("the dev stack is not running:")
    assert f"its process (pid {pid}) is gone" in message
    assert "make run" in message
    assert environ == {}


def test_a_live_stack_whose_server_does_not_answer_is_refused(tmp_path: Path) -> None:
    # This very process is alive; port 1 on loopback answers nothing.
    stack_file.write(tmp_path, a_stack_file(os.getpid()))

    with pytest.raises(DevStackNotRunning) as refused:
        stack_file.use({}, tmp_path)

    assert "PostgreSQL at 127.0.0.1:1 does not answer" in str(refused.value)


def test_a_file_that_is_not_a_stack_file_is_refused_not_a_traceback(tmp_path: Path) -> None:
    (tmp_path / "devstack.json").write_text("{not json")

    with pytest.raises(DevStackNotRunning, match="is not a dev stack file"):
        stack_file.use({}, tmp_path)


def test_the_servers_line_never_shows_credentials_and_names_each_source(tmp_path: Path) -> None:
    environ = {
        "DATABASE_URL": "postgresql+psycopg://admin:s3cret@db.internal:6543/x",
        "REDIS_URL": "redis://:hunter2@cache:6380/0",
        "STRIPE_API_BASE": "http://127.0.0.1:2",
    }
    chosen = Chosen(a_stack_file(1), tmp_path / "devstack.json", ("STRIPE_API_BASE",))

    line = stack_file.describe(chosen, environ)

    assert "s3cret" not in line and "hunter2" not in line and "admin" not in line
    assert line == (
        f"using the dev stack started at 2026-12-01T10:00:00+00:00 (pid 1, {chosen.path}):"
        " PostgreSQL db.internal:6543 (from DATABASE_URL), Redis cache:6380 (from REDIS_URL),"
        " Temporal 127.0.0.1:7233 (default: TEMPORAL_ADDRESS unset),"
        " Stripe http://127.0.0.1:2,"
        " Shippo https://api.goshippo.com (default: SHIPPO_API_BASE unset)"
    )
