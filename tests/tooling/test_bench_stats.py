"""The benchmarks' statistics: nearest-rank percentiles, what they print, and targets met."""

import argparse
import random

import pytest

from bench import (
    format_latency,
    format_rate,
    format_ratio,
    options_of,
    percentile,
    ratio,
    reproduce_command,
    summarize,
    verdict,
)


def test_percentiles_of_one_to_a_hundred_are_their_ranks() -> None:
    values = [float(n) for n in range(1, 101)]
    random.Random(4).shuffle(values)
    assert percentile(values, 50) == 50
    assert percentile(values, 95) == 95
    assert percentile(values, 99) == 99
    assert percentile(values, 100) == 100
    assert percentile(values, 0.5) == 1
    assert percentile(values, 7) == 7  # 0.07 * 100 is 7.000000000000001 in floats


def test_a_percentile_is_always_one_of_the_values() -> None:
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 51) == 3.0
    assert percentile([5.0], 1) == 5.0
    assert percentile([5.0], 99) == 5.0
    assert percentile([3.0, 1.0, 2.0], 99) == 3.0


def test_percentile_refuses_nothing_and_out_of_range() -> None:
    with pytest.raises(ValueError):
        percentile([], 50)
    with pytest.raises(ValueError):
        percentile([1.0], 0)
    with pytest.raises(ValueError):
        percentile([1.0], 100.5)


def test_summary_and_its_milliseconds() -> None:
    summary = summarize([0.001 * n for n in range(1, 201)])
    assert summary is not None
    assert summary.count == 200
    assert summary.p50 == pytest.approx(0.100)
    assert summary.p95 == pytest.approx(0.190)
    assert summary.p99 == pytest.approx(0.198)
    assert summary.max == pytest.approx(0.200)
    assert format_latency(summary) == "n=200  p50 100.0  p95 190.0  p99 198.0  max 200.0 ms"
    assert summarize([]) is None
    assert format_latency(None) == "n=0"


def test_ratios_and_the_command_to_reproduce() -> None:
    assert ratio(300, 100) == 3
    assert ratio(1, 0) is None
    assert format_ratio(2.5) == "2.50x"
    assert format_ratio(None) == "n/a"
    assert (
        reproduce_command("bench.flash_sale", [("--buyers", 1000), ("--units", 100)])
        == ".venv/bin/python -m bench.flash_sale --buyers 1000 --units 100"
    )


def test_rates_have_one_decimal_or_a_dash() -> None:
    assert format_rate(5.46) == "5.5"
    assert format_rate(None) == "-"


def test_verdicts() -> None:
    assert verdict(1.2, 1.2, at_most=True) == "met"
    assert verdict(1.21, 1.2, at_most=True) == "missed"
    assert verdict(0.8, 0.8, at_most=False) == "met"
    assert verdict(0.79, 0.8, at_most=False) == "missed"
    assert verdict(None, 1.0, at_most=True) == "n/a"


def test_options_are_read_from_the_parsed_arguments_by_flag() -> None:
    args = argparse.Namespace(in_flight=300, settle=10.0, keep_data=False)
    assert options_of(args, "--in-flight --settle") == [("--in-flight", 300), ("--settle", 10.0)]
    assert options_of(args, "") == []
