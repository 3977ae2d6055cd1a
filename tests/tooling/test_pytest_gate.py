"""The test gate trusts pytest's summary line, not only its exit code."""

from __future__ import annotations

import pytest

from tools.pytest_gate import SUMMARY, verdict


@pytest.mark.parametrize(
    "line,body",
    [
        ("294 passed in 59.98s", "294 passed"),
        ("===== 3 passed, 2 warnings in 1.20s =====", "3 passed, 2 warnings"),
        ("= 1 failed, 2 passed in 0.50s (0:00:00) =", "1 failed, 2 passed"),
        ("no tests ran in 0.01s", "no tests ran"),
    ],
)
def test_the_summary_line_is_found_with_or_without_borders(line: str, body: str) -> None:
    match = SUMMARY.match(line)
    assert match is not None and match.group("body") == body


def test_an_ordinary_output_line_is_not_a_summary() -> None:
    assert SUMMARY.match("tests/unit/test_money.py ....  [ 10%]") is None


def test_all_passed_is_a_pass() -> None:
    assert verdict("12 passed", 0) == (True, "12 passed")


def test_no_tests_ran_fails() -> None:
    assert verdict("no tests ran", 5)[0] is False


def test_a_failure_fails_even_with_passes() -> None:
    assert verdict("1 failed, 40 passed", 1)[0] is False


def test_a_skip_fails_the_gate() -> None:
    assert verdict("3 passed, 1 skipped", 0)[0] is False


def test_a_crash_at_exit_after_a_clean_summary_passes_and_is_reported() -> None:
    ok, message = verdict("12 passed", 134)
    assert ok is True and "exited 134" in message


def test_a_crash_before_any_summary_fails() -> None:
    assert verdict(None, 134) == (False, "pytest printed no summary line (exit 134)")
