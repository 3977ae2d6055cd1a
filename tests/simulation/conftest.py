"""The simulation's stacks, started on demand and always stopped (stacks.py)."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.simulation.stacks import SimStacks


@pytest.fixture(scope="session")
def sim_stacks() -> Iterator[SimStacks]:
    # Not under pytest's numbered temporary folders: another pytest started meanwhile on this
    # machine deletes all but the newest three, and with them a long run's database.
    folder = Path(tempfile.mkdtemp(prefix="fulfillment-simulation-"))
    stacks = SimStacks(folder)
    try:
        yield stacks
    finally:
        stacks.close()
        if not os.environ.get("SIM_KEEP"):
            shutil.rmtree(folder, ignore_errors=True)
