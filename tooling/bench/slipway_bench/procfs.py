"""CPU time and resident memory of a process, from /proc (Linux)."""

import os
from pathlib import Path

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process `pid` so far (0.0 if it is gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    return parse_cpu_seconds(stat)


def parse_cpu_seconds(stat: str) -> float:
    """utime + stime (fields 14 and 15) of a `/proc/<pid>/stat` line, in seconds."""
    fields = stat.rsplit(")", 1)[1].split()  # the command name may hold spaces and ")"
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


def parse_rss_bytes(status: str) -> int:
    """VmRSS of a `/proc/<pid>/status` text, in bytes."""
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            value, unit = line.split()[1:3]
            if unit != "kB":
                raise ValueError(f"unexpected VmRSS unit {unit!r}")
            return int(value) * 1024
    raise ValueError("no VmRSS line (a kernel thread or a zombie?)")


def process_rss_bytes(pid: int) -> int:
    """The resident set size of process `pid` now, in bytes."""
    return parse_rss_bytes(Path(f"/proc/{pid}/status").read_text())


def child_pids(pid: int) -> list[int]:
    """The direct children of process `pid` (from every thread's `children` file)."""
    children: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children.extend(int(c) for c in (task / "children").read_text().split())
        except OSError:  # the thread or the process ended meanwhile
            continue
    return sorted(set(children))


def process_tree(pid: int) -> list[int]:
    """`pid` and all its descendants alive now, parents first ([] if `pid` is gone)."""
    if not Path(f"/proc/{pid}").exists():
        return []
    tree, index = [pid], 0
    while index < len(tree):
        tree.extend(c for c in child_pids(tree[index]) if c not in tree)
        index += 1
    return tree


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds so far of `pid` and its live descendants, together."""
    return sum(process_cpu_seconds(p) for p in process_tree(pid))


def tree_rss_bytes(pid: int) -> int:
    """VmRSS of `pid` and its live descendants, summed (shared pages count in each)."""
    total = 0
    for p in process_tree(pid):
        try:
            total += process_rss_bytes(p)
        except (OSError, ValueError):  # ended meanwhile, or a zombie
            continue
    return total


def pin_tree(pid: int, cpus: set[int]) -> None:
    """Restrict every thread of `pid` and its descendants to `cpus` (new children inherit it)."""
    for p in process_tree(pid):
        for task in Path(f"/proc/{p}/task").glob("*"):
            try:
                os.sched_setaffinity(int(task.name), cpus)
            except (OSError, ValueError):  # the thread ended meanwhile
                continue
