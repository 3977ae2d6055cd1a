"""The worker writes the workflow modules' bytecode before its first workflow: the sandbox
runs each workflow module again for every workflow instance, and without bytecode on disk
Python compiles the source each time (temporal/worker.py)."""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path

import pytest

from temporal.worker import WORKFLOWS_PACKAGE, write_workflow_bytecode


def test_the_worker_writes_bytecode_even_when_python_is_told_not_to(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = tmp_path / "workflows"
    shutil.copytree(WORKFLOWS_PACKAGE, package, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(sys, "dont_write_bytecode", True)

    assert write_workflow_bytecode(package)

    modules = sorted(package.glob("*.py"))
    assert any(m.name == "order.py" for m in modules)
    for module in modules:
        cached = Path(importlib.util.cache_from_source(str(module)))
        assert cached.is_file(), f"no bytecode for {module.name}"
        # The header records the source's size: Python uses the file only when it matches.
        header = cached.read_bytes()[:16]
        assert int.from_bytes(header[12:16], "little") == module.stat().st_size


def test_bytecode_that_is_up_to_date_is_not_written_again(tmp_path: Path) -> None:
    package = tmp_path / "workflows"
    shutil.copytree(WORKFLOWS_PACKAGE, package, ignore=shutil.ignore_patterns("__pycache__"))
    assert write_workflow_bytecode(package)
    cached = Path(importlib.util.cache_from_source(str(package / "order.py")))
    written = cached.stat().st_mtime_ns

    assert write_workflow_bytecode(package)

    assert cached.stat().st_mtime_ns == written
