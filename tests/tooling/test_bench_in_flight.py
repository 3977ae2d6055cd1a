"""The in-flight benchmark's arithmetic (bench/in_flight.py, bench/in_flight_orders.py,
bench/proc_stats.py): memory from /proc/<pid>/status, process trees, progress marks, stock per
product and CPU per second."""

import os

import httpx
import pytest

from bench import in_flight_orders
from bench.in_flight import parse
from bench.in_flight_orders import crossed, stock_per_product
from bench.proc_stats import NO_MEMORY, Memory, mib, ms_per_second, parse_memory, tree_members

STATUS = """Name:\tpython
State:\tS (sleeping)
Pid:\t4242
PPid:\t17
VmPeak:\t  900000 kB
VmSize:\t  850000 kB
VmHWM:\t  123456 kB
VmRSS:\t   98765 kB
RssAnon:\t   50000 kB
Threads:\t12
"""


def test_memory_is_vmrss_and_vmhwm_in_kib() -> None:
    assert parse_memory(STATUS) == Memory(rss_kib=98765, peak_kib=123456)


def test_a_process_without_memory_counts_zero() -> None:
    # Kernel threads and zombies have no Vm lines.
    assert parse_memory("Name:\tkthreadd\nState:\tS (sleeping)\n") == NO_MEMORY


def test_memory_of_this_process_is_read_from_proc() -> None:
    with open(f"/proc/{os.getpid()}/status") as handle:
        mine = parse_memory(handle.read())
    assert 0 < mine.rss_kib <= mine.peak_kib


def test_memories_add_up() -> None:
    assert Memory(1, 2) + Memory(10, 20) + NO_MEMORY == Memory(11, 22)
    assert mib(2048) == 2.0


def test_a_tree_is_its_root_and_everything_below_it() -> None:
    parents = {1: 0, 10: 1, 11: 10, 12: 10, 13: 12, 20: 1, 21: 20}
    assert tree_members(parents, 10) == [10, 11, 12, 13]
    assert tree_members(parents, 13) == [13]
    assert tree_members(parents, 1) == [1, 10, 11, 12, 13, 20, 21]


def test_a_root_that_ended_has_no_tree() -> None:
    assert tree_members({1: 0, 11: 10}, 10) == []


def test_a_process_that_is_its_own_parent_is_counted_once() -> None:
    # pid 0's parent is reported as 0 in some containers.
    assert tree_members({0: 0, 5: 0}, 0) == [0, 5]


def test_progress_marks_are_the_multiples_passed() -> None:
    assert crossed(0, 999, 1000) == []
    assert crossed(999, 1000, 1000) == [1000]
    assert crossed(1000, 1001, 1000) == []
    assert crossed(950, 3100, 1000) == [1000, 2000, 3000]
    assert crossed(5, 3, 1000) == []
    assert crossed(0, 5000, 0) == []


def test_stock_covers_every_order_twice_over() -> None:
    assert stock_per_product(10_400, 10) == 2 * 1040 + 100
    assert stock_per_product(380, 10) == 2 * 38 + 100
    assert stock_per_product(1, 10) == 102
    for orders, products in ((10_400, 10), (380, 7), (5, 10)):
        assert stock_per_product(orders, products) * products >= 2 * orders


def test_cpu_per_second() -> None:
    assert ms_per_second(100, 10.0, 100) == 100.0
    assert ms_per_second(5, 0.0, 100) is None
    assert ms_per_second(5, 1.0, 0) is None


def test_the_options_of_the_issue_and_of_the_smoke_run_parse() -> None:
    full = parse(["--in-flight", "10000", "--baseline", "100", "--probe", "200"])
    assert (full.in_flight, full.baseline, full.probe, full.concurrency) == (10000, 100, 200, 32)
    smoke = parse("--in-flight 300 --baseline 20 --probe 40 --concurrency 8".split())
    assert (smoke.in_flight, smoke.concurrency) == (300, 8)


@pytest.mark.parametrize(
    "words",
    [
        "--in-flight 100 --baseline 20 --probe 80",  # B would start where A's probe ends
        "--in-flight 300 --baseline 0",
        "--in-flight 300 --probe 0",
        "--in-flight 300 --concurrency 0",
        "--in-flight 300 --settle -1",
    ],
)
def test_options_that_cannot_make_two_phases_are_refused(words: str) -> None:
    with pytest.raises(SystemExit):
        parse(words.split())


async def test_a_fill_tops_up_what_was_not_confirmed_and_logs_progress(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Against a fake API (no stack): the first three checkouts time out (504), the rest are
    confirmed; the fill places three more to reach its count."""
    seen: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["Idempotency-Key"])
        if len(seen) <= 3:
            return httpx.Response(504, json={"code": "timeout"})
        return httpx.Response(201, json={"id": f"ord_{len(seen)}", "status": "confirmed"})

    monkeypatch.setattr(in_flight_orders, "PROGRESS_EVERY", 10)
    transport = httpx.MockTransport(answer)
    async with httpx.AsyncClient(base_url="http://api.test", transport=transport) as api:
        orders = in_flight_orders.Orders(api, ["SKU-A", "SKU-B"], concurrency=4)
        load = await orders.fill(25, "B-fill", already=7)

    assert load.confirmed == 25
    assert len(load.placed) == 28 == len(set(seen))
    assert load.failures() == {"HTTP 504 timeout": 3}
    log = capsys.readouterr().err
    assert "10 orders awaiting shipment" in log
    assert "30 orders awaiting shipment" in log
    assert "40 orders awaiting shipment" not in log
