"""Benchmarks (issue #4): a flash sale through the real API, and reservation throughput on one
hot SKU. Each prints its figures and the command that reproduces them; see bench/README.md.

This module holds the small, pure helpers they share: statistics, how figures and targets are
printed, and the reproduce command (tested in tests/tooling/test_bench_stats.py).
"""

from __future__ import annotations

import argparse
import math
import shlex
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile: the smallest value with at least `p`% of the values at or
    below it. Always one of the values, never an interpolation; `p` in (0, 100]."""
    if not values:
        raise ValueError("no values")
    if not 0 < p <= 100:
        raise ValueError(f"percentile out of (0, 100]: {p}")
    ordered = sorted(values)
    # Rounded first so that float noise (0.07 * 100 = 7.000000000000001) is no extra rank.
    rank = math.ceil(round(p * len(ordered) / 100, 9))
    return ordered[max(rank, 1) - 1]


@dataclass(frozen=True)
class Summary:
    count: int
    p50: float
    p95: float
    p99: float
    max: float


def summarize(values: Sequence[float]) -> Summary | None:
    """p50/p95/p99/max of the values, or None when there are none."""
    if not values:
        return None
    return Summary(
        count=len(values),
        p50=percentile(values, 50),
        p95=percentile(values, 95),
        p99=percentile(values, 99),
        max=max(values),
    )


def format_latency(summary: Summary | None) -> str:
    """Seconds in, milliseconds out: 'n=100  p50 12.3  p95 ...  max ... ms'."""
    if summary is None:
        return "n=0"
    parts = [f"n={summary.count}"]
    for name, seconds in (
        ("p50", summary.p50),
        ("p95", summary.p95),
        ("p99", summary.p99),
        ("max", summary.max),
    ):
        parts.append(f"{name} {seconds * 1000:.1f}")
    return "  ".join(parts) + " ms"


def ratio(numerator: float, denominator: float) -> float | None:
    """numerator / denominator, or None when the denominator is not positive."""
    return numerator / denominator if denominator > 0 else None


def format_ratio(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}x"


def format_rate(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def verdict(value: float | None, limit: float, *, at_most: bool) -> str:
    if value is None:
        return "n/a"
    met = value <= limit if at_most else value >= limit
    return "met" if met else "missed"


def reproduce_command(module: str, options: Sequence[tuple[str, object]]) -> str:
    """The command line that runs `module` again with these options, from the repo root."""
    words = [".venv/bin/python", "-m", module]
    for flag, value in options:
        words += [flag, str(value)]
    return shlex.join(words)


def options_of(args: argparse.Namespace, flags: str) -> list[tuple[str, object]]:
    """(flag, value) of each space-separated flag, its value as argparse parsed it
    ("--in-flight" reads args.in_flight): the options a reproduce command repeats."""
    return [
        (flag, getattr(args, flag.removeprefix("--").replace("-", "_"))) for flag in flags.split()
    ]


def log(message: str) -> None:
    """Progress goes to stderr, with the time of day; the figures go to stdout."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


@contextmanager
def progress_bar(
    what: str, total: int, console: Console | None = None
) -> Iterator[Callable[[int], None]]:
    """A bar on stderr with the count, the rate and the time left, when stderr is a terminal
    (or `console` is given); `update(done)` moves it. Elsewhere (a file, CI) nothing: the
    `log` lines say how far a run is, and a bar's redraws would fill the file."""
    if console is None and not sys.stderr.isatty():
        yield lambda done: None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("left"),
        TimeRemainingColumn(),
    )
    # Lines printed meanwhile (`log`) appear above the bar, which stays at the bottom.
    with Progress(*columns, console=console or Console(stderr=True), transient=True) as bar:
        task = bar.add_task(what, total=total)
        yield lambda done: bar.update(task, completed=done)
