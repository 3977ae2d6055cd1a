"""The operator's commands find the running dev stack with nothing set: `fulfillment
reconcile` run as a separate process, with a clean environment, reads the stack's file in its
data folder, says which servers it talks to, and works; a stack that is gone is refused with a
clear message, never a traceback."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from devstack import stack_file
from devstack.stack import DevStack
from tests.e2e.client import onboard, order_body, place, stock_product

FULFILLMENT = str(Path(sys.executable).parent / "fulfillment")


def clean_env(**extra: str) -> dict[str, str]:
    """No DATABASE_URL, STRIPE_*, FULFILLMENT_*: only what any shell has."""
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(Path.home()), **extra}


def fulfillment(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [FULFILLMENT, *args],
        cwd=cwd,
        env=env or clean_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
async def confirmed_order(stack: DevStack) -> str:
    async with httpx.AsyncClient(base_url=stack.api_url, timeout=60) as api:
        seller = await onboard(api, "CliReconcile")
        sku = await stock_product(api, seller, price_cents=1800, on_hand=3)
        placed = await place(api, order_body([(sku, 1)]))
    assert placed.status_code == 201, placed.text
    return str(placed.json()["id"])


def servers_of(stack: DevStack) -> str:
    ports = stack.ports
    return (
        f"PostgreSQL 127.0.0.1:{ports.postgres}, Redis 127.0.0.1:{ports.redis},"
        f" Temporal 127.0.0.1:{ports.temporal}, Stripe http://127.0.0.1:{ports.stripe},"
        f" Shippo http://127.0.0.1:{ports.shippo}"
    )


def test_the_running_stack_leaves_a_file_with_dev_values_only_for_its_owner(
    stack: DevStack,
) -> None:
    path = stack.data_dir / "devstack.json"

    written = json.loads(path.read_text())

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert (written["api_url"], written["pid"]) == (stack.api_url, os.getpid())
    assert written["variables"] == {
        "DATABASE_URL": stack.env["DATABASE_URL"],
        "REDIS_URL": stack.env["REDIS_URL"],
        "TEMPORAL_ADDRESS": stack.env["TEMPORAL_ADDRESS"],
        "STRIPE_API_BASE": stack.env["STRIPE_API_BASE"],
        "STRIPE_API_KEY": "sk_test_fulfillment_dev",
        "SHIPPO_API_BASE": stack.env["SHIPPO_API_BASE"],
        "SHIPPO_API_KEY": "shippo_test_fulfillment_dev",
        "FULFILLMENT_PLATFORM_KEY": "dev-platform-key",
        "FULFILLMENT_OPS_KEY": "dev-ops-key",
        "STRIPE_WEBHOOK_SECRET": "whsec_dev_fulfillment",
        "SHIPPO_WEBHOOK_TOKEN": "dev-shippo-webhook-token",
        "FULFILLMENT_TASK_QUEUE": "fulfillment-e2e",
    }


@pytest.mark.parametrize("found_by", ["--data-dir", "FULFILLMENT_DATA_DIR"])
def test_reconcile_with_nothing_set_uses_the_running_dev_stack_and_says_so(
    stack: DevStack, confirmed_order: str, tmp_path: Path, found_by: str
) -> None:
    where = str(stack.data_dir)
    if found_by == "--data-dir":
        done = fulfillment(
            "--data-dir", where, "reconcile", "--order", confirmed_order, cwd=tmp_path
        )
    else:
        env = clean_env(FULFILLMENT_DATA_DIR=where)
        done = fulfillment("reconcile", "--order", confirmed_order, cwd=tmp_path, env=env)

    assert done.returncode == 0, done.stderr
    assert done.stdout == "the ledger matches Stripe\n"
    started = json.loads((stack.data_dir / "devstack.json").read_text())["started_at"]
    assert done.stderr.splitlines() == [
        f"using the dev stack started at {started} (pid {os.getpid()},"
        f" {stack.data_dir / 'devstack.json'}): {servers_of(stack)}"
    ]


def test_a_variable_set_wins_over_the_dev_stack_file(
    stack: DevStack, confirmed_order: str, tmp_path: Path
) -> None:
    # The same database, named differently: the command must use the one it was given.
    given = stack.env["DATABASE_URL"].replace("127.0.0.1", "localhost")
    env = clean_env(FULFILLMENT_DATA_DIR=str(stack.data_dir), DATABASE_URL=given)

    done = fulfillment("reconcile", "--order", confirmed_order, cwd=tmp_path, env=env)

    assert done.returncode == 0, done.stderr
    assert f"PostgreSQL localhost:{stack.ports.postgres} (from DATABASE_URL)" in done.stderr
    assert f"Stripe http://127.0.0.1:{stack.ports.stripe}," in done.stderr


def test_reconcile_against_a_stack_that_is_gone_says_so_and_exits_3(
    stack: DevStack, tmp_path: Path
) -> None:
    # The file a crashed stack leaves behind: every server of the live one, but its process
    # is gone.
    left = json.loads((stack.data_dir / "devstack.json").read_text())
    left["pid"] = _dead_pid()
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "devstack.json").write_text(json.dumps(left))

    done = fulfillment("--data-dir", str(data_dir), "reconcile", cwd=tmp_path)

    assert done.returncode == 3
    assert done.stdout == ""
    assert "Traceback" not in done.stderr
    assert done.stderr.splitlines() == [
        f"the dev stack is not running: {data_dir / 'devstack.json'} says it was started at"
        f" {left['started_at']} (pid {left['pid']}), but its process (pid {left['pid']}) is"
        " gone. Start it with `make run` (it replaces the file), or set DATABASE_URL,"
        " REDIS_URL, TEMPORAL_ADDRESS, STRIPE_API_BASE, STRIPE_API_KEY, SHIPPO_API_BASE,"
        " SHIPPO_API_KEY, FULFILLMENT_PLATFORM_KEY, FULFILLMENT_OPS_KEY, STRIPE_WEBHOOK_SECRET,"
        " SHIPPO_WEBHOOK_TOKEN, FULFILLMENT_TASK_QUEUE to use other servers."
    ]
    # Nothing was changed: the file stays for the operator to see.
    assert json.loads((data_dir / "devstack.json").read_text()) == left


def test_a_stopped_stack_removes_its_file(tmp_path: Path) -> None:
    stopped = DevStack(tmp_path)
    stopped.env = {"DATABASE_URL": "postgresql+psycopg://postgres@127.0.0.1:1/fulfillment"}
    stopped._write_stack_file()
    assert stack_file.read(tmp_path) is not None

    stopped.stop(log=lambda _: None)

    assert not (tmp_path / "devstack.json").exists()


def _dead_pid() -> int:
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    return int(done.stdout)
