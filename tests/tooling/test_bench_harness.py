"""What every benchmark does around its measurement (bench/harness.py): only its own servers,
a folder that does not outlive the run unless kept, and every server stopped, SIGTERM or not."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest

from bench.harness import CONFIGURED_SERVICES, forget_configured_services, scratch_folder, servers

ROOT = Path(__file__).resolve().parents[2]


def test_a_benchmark_forgets_exactly_the_configured_services() -> None:
    assert set(CONFIGURED_SERVICES) >= {
        "DATABASE_URL",
        "REDIS_URL",
        "TEMPORAL_ADDRESS",
        "STRIPE_API_BASE",
        "STRIPE_API_KEY",
        "SHIPPO_API_BASE",
        "SHIPPO_API_KEY",
    }
    others = {
        "PATH": "/usr/bin",
        "FULFILLMENT_TRACES": "off",
        "DATABASE_URL_OF_SOMETHING_ELSE": "kept",
        "STRIPE_WEBHOOK_SECRET": "whsec_kept",
    }
    environ = {**others, **{name: "configured" for name in CONFIGURED_SERVICES}}
    forget_configured_services(environ)
    assert environ == others
    forget_configured_services(environ)  # none left: nothing to forget, no error
    assert environ == others


def test_the_scratch_folder_is_removed_after_the_run_even_a_failed_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    with scratch_folder("bench-x-") as folder:
        (folder / "logs").mkdir()
        (folder / "logs" / "api.log").write_text("served\n")
    assert folder.parent == tmp_path and folder.name.startswith("bench-x-")
    assert not folder.exists()
    with pytest.raises(RuntimeError), scratch_folder("bench-x-") as failed:
        (failed / "state.json").write_text("{}")
        raise RuntimeError("the measurement failed")
    assert not failed.exists()


def test_a_kept_folder_stays_and_the_run_says_where(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    with scratch_folder("bench-x-", keep=True, kept="state files and logs are kept") as folder:
        (folder / "fresh.log").write_text("started\n")
    assert (folder / "fresh.log").read_text() == "started\n"
    assert f"state files and logs are kept: {folder}" in capsys.readouterr().err


def test_servers_stop_last_first_and_one_that_fails_does_not_keep_the_others_up(
    capsys: pytest.CaptureFixture[str],
) -> None:
    stopped: list[str] = []

    def cannot() -> None:
        raise OSError("no such process")

    with pytest.raises(KeyboardInterrupt), servers() as started:
        started.add("PostgreSQL", lambda: stopped.append("PostgreSQL"))
        started.add("Temporal", cannot)
        started.add("the worker", lambda: stopped.append("the worker"))
        raise KeyboardInterrupt  # Ctrl-C in the middle of a measurement
    assert stopped == ["the worker", "PostgreSQL"]
    err = capsys.readouterr().err
    assert "could not stop Temporal: no such process" in err
    assert err.index("stopping the worker") < err.index("stopping Temporal")
    assert err.index("stopping Temporal") < err.index("stopping PostgreSQL")


BENCHMARK = textwrap.dedent(
    """
    import time

    from bench.harness import scratch_folder, servers, stop_on_sigterm
    from devstack import ManagedProcess

    stop_on_sigterm()
    with scratch_folder("bench-sigterm-") as folder, servers() as started:
        server = ManagedProcess.start("sleeper", ["sleep", "120"], folder / "sleeper.log")
        started.add("the sleeper", server.stop)
        print(server.pid, folder, flush=True)
        time.sleep(120)
    """
)


def test_sigterm_stops_a_benchmark_cleanly_with_its_servers_and_folder(tmp_path: Path) -> None:
    run = subprocess.Popen(
        [sys.executable, "-c", BENCHMARK],
        cwd=ROOT,
        env={**os.environ, "TMPDIR": str(tmp_path)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    pid = 0
    try:
        assert run.stdout is not None
        first, folder = run.stdout.readline().split()
        pid = int(first)
        assert Path(folder).is_dir()
        run.send_signal(signal.SIGTERM)
        _, err = run.communicate(timeout=30)
        assert run.returncode == 128 + signal.SIGTERM, err
        assert "stopping the sleeper" in err
        assert "Traceback" not in err
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
        assert not Path(folder).exists()
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
        if pid:  # a server the benchmark left running (in a session of its own) goes too
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
