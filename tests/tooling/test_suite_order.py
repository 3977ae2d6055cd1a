"""The suite's longest files start first (tests/conftest.py): a file renamed or removed must
leave that list, or the order it was chosen for is silently lost."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import LONGEST_FIRST

ROOT = Path(__file__).resolve().parents[2]


def test_every_file_named_to_run_first_exists_once() -> None:
    assert len(set(LONGEST_FIRST)) == len(LONGEST_FIRST)
    assert [path for path in LONGEST_FIRST if not (ROOT / path).is_file()] == []


def test_the_suite_keeps_the_chosen_order_under_xdist() -> None:
    assert "--no-loadscope-reorder" in (ROOT / "Makefile").read_text()
