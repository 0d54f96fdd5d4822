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
