"""What the benchmarks read from /proc about the servers they started: which process is which
server (by its command line), the CPU ticks of each server's process tree (ended children
included), and its resident memory (VmRSS and VmHWM, summed over the tree). Shared by
bench.saga, bench.in_flight and bench.flash_sale (tests in tests/tooling/test_bench_saga.py
and tests/tooling/test_bench_in_flight.py)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

# The servers `role_of` knows, in the order bench.saga prints their CPU; "bench" (this
# process, the load generator) is printed after their total.
ROLES = ("temporal", "postgres", "redis", "api", "worker", "stripe", "bare worker")
BENCH = "bench"


# ---------------------------------------------------------------------------------------
# Pure helpers


@dataclass(frozen=True)
class ProcStat:
    pid: int
    ppid: int
    # utime + stime, and cutime + cstime: what it ran, and what its children that it waited
    # for ran (a PostgreSQL backend that ended is counted in the postmaster's).
    own_ticks: int
    reaped_ticks: int

    @property
    def ticks(self) -> int:
        return self.own_ticks + self.reaped_ticks


def parse_stat(text: str) -> ProcStat:
    """One /proc/<pid>/stat line. The command name, in parentheses, may hold spaces and
    parentheses itself, so the fields are counted from the last ')'."""
    pid = int(text.split(" ", 1)[0])
    fields = text[text.rindex(")") + 2 :].split()
    # fields[0] is field 3 of proc(5) (state): field n is fields[n - 3].
    ppid = int(fields[1])
    utime, stime, cutime, cstime = (int(value) for value in fields[11:15])
    return ProcStat(pid, ppid, utime + stime, cutime + cstime)


def tree_ticks(stats: Mapping[int, ProcStat], root: int) -> int:
    """CPU ticks of `root` and of every process below it, the ended ones included: a live
    process's own ticks plus those of the children it reaped, so that nothing is counted
    twice (an ended child is in exactly one live ancestor's count)."""
    children: dict[int, list[int]] = {}
    for stat in stats.values():
        children.setdefault(stat.ppid, []).append(stat.pid)
    total, pending = 0, [root]
    while pending:
        pid = pending.pop()
        if pid in stats:
            total += stats[pid].ticks
            pending.extend(children.get(pid, []))
    return total


def role_of(argv: Sequence[str]) -> str | None:
    """Which of the stack's servers a command line is, or None."""
    if not argv:
        return None
    # Redis rewrites its title to "…/redis-server 127.0.0.1:port" in one word.
    program = Path(argv[0].split(" ", 1)[0]).name
    words = list(argv)
    if "emulators.stripe" in words:
        return "stripe"
    if "bench.bare_saga" in words:
        return "bare worker"
    if "cli" in words and words.index("cli") + 1 < len(words):
        command = words[words.index("cli") + 1]
        if command in ("api", "worker"):
            return command
    if program == "postgres":
        return "postgres"
    if program == "redis-server":
        return "redis"
    if program == "temporal" and "start-dev" in words:
        return "temporal"
    return None


def ms_per_order(ticks: int, orders: int, ticks_per_second: int) -> float | None:
    """CPU ticks spent over `orders` orders, in milliseconds per order."""
    if orders <= 0 or ticks_per_second <= 0:
        return None
    return ticks * 1000 / ticks_per_second / orders


def ticks_between(before: Mapping[str, int], after: Mapping[str, int]) -> dict[str, int]:
    """What each process spent between two readings (a process gone by then spent 0)."""
    return {name: max(after.get(name, 0) - ticks, 0) for name, ticks in before.items()}


@dataclass(frozen=True)
class Memory:
    rss_kib: int  # VmRSS: resident now
    peak_kib: int  # VmHWM: the most each process was ever resident, summed

    def __add__(self, other: Memory) -> Memory:
        return Memory(self.rss_kib + other.rss_kib, self.peak_kib + other.peak_kib)


NO_MEMORY = Memory(0, 0)


def parse_memory(status: str) -> Memory:
    """VmRSS and VmHWM of one /proc/<pid>/status (in kB, that is KiB); a kernel thread or a
    zombie has neither and counts 0."""
    values = {"VmRSS": 0, "VmHWM": 0}
    for line in status.splitlines():
        name, _, rest = line.partition(":")
        if name in values:
            values[name] = int(rest.split()[0])
    return Memory(values["VmRSS"], values["VmHWM"])


def tree_members(parents: Mapping[int, int], root: int) -> list[int]:
    """`root` and every live process below it (pid -> parent pid); [] when root is gone."""
    if root not in parents:
        return []
    children: dict[int, list[int]] = {}
    for pid, parent in parents.items():
        children.setdefault(parent, []).append(pid)
    members, pending = [], [root]
    while pending:
        pid = pending.pop()
        members.append(pid)
        pending.extend(child for child in children.get(pid, []) if child != pid)
    return sorted(members)


def mib(kib: int) -> float:
    return kib / 1024


def ms_per_second(ticks: int, seconds: float, ticks_per_second: int) -> float | None:
    if seconds <= 0 or ticks_per_second <= 0:
        return None
    return ticks * 1000 / ticks_per_second / seconds


# ---------------------------------------------------------------------------------------
# The processes, their CPU and their memory


def read_processes() -> dict[int, ProcStat]:
    stats: dict[int, ProcStat] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as handle:
                stats[int(entry.name)] = parse_stat(handle.read())
        except (OSError, ValueError, IndexError):
            continue  # ended while we looked
    return stats


def argv_of(pid: int) -> list[str]:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            raw = handle.read()
    except OSError:
        return []
    return [word.decode(errors="replace") for word in raw.split(b"\0") if word]


def find_servers(required: Sequence[str] = ROLES) -> dict[str, list[int]]:
    """The PIDs of each server by role: the stack (and the bare worker) are all children of
    this process (DevStack does not expose its PIDs), known by their command lines. A role
    can have several processes (`--worker-processes`); each of `required` must be found."""
    me = os.getpid()
    found: dict[str, list[int]] = {}
    for stat in read_processes().values():
        if stat.ppid == me:
            role = role_of(argv_of(stat.pid))
            if role is not None:
                found.setdefault(role, []).append(stat.pid)
    missing = [role for role in required if role not in found]
    if missing:
        raise RuntimeError(f"no process found for {missing} among this process's children")
    return found


def cpu_ticks(servers: Mapping[str, Sequence[int]]) -> dict[str, int]:
    """Ticks spent so far by each server's process trees, and by this process alone."""
    stats = read_processes()
    ticks = {role: sum(tree_ticks(stats, pid) for pid in pids) for role, pids in servers.items()}
    me = stats.get(os.getpid())
    ticks[BENCH] = me.own_ticks if me is not None else 0
    return ticks


def _status_memory(pid: int) -> Memory:
    try:
        with open(f"/proc/{pid}/status") as handle:
            return parse_memory(handle.read())
    except (OSError, ValueError, IndexError):
        return NO_MEMORY  # ended while we looked


def memory(servers: Mapping[str, Sequence[int]]) -> dict[str, Memory]:
    """Each server's process trees, summed (pages shared between processes, such as
    PostgreSQL's shared buffers, count once per process that touched them)."""
    parents = {pid: stat.ppid for pid, stat in read_processes().items()}
    totals: dict[str, Memory] = {}
    for role, roots in servers.items():
        total = NO_MEMORY
        for root in roots:
            for pid in tree_members(parents, root):
                total += _status_memory(pid)
        totals[role] = total
    return totals
