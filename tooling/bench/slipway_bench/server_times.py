"""The time requests spend inside the service, read off its own access lines.

wrk's latency of a request is the time from its write to the last byte of the answer. The
service's access line (`slipway.access`, JSON on stdout) carries `duration_ms`: from the moment
the platform's first layer got the request to the response's last byte handed to the server.
The difference is time outside the app: waiting in the socket and the event loop before the
request is read and parsed, and after the answer is written. Under a load of `c` connections
on one process most of a request's latency is waiting for the other `c - 1`; a tail that shows
in wrk but not in the access lines is spent waiting, one that shows in both is spent in the
app (a slow statement, a pool checkout, a stall of the event loop).

`--server-times` on `tooling/bench:contexts` keeps the service's stdout in a file of the work
directory instead of /dev/null, and `LogWindow` reads the lines one measured run wrote.
"""

import json
import math
import statistics
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ACCESS_LOGGER = "slipway.access"
_LOGGER_FIELD = f'"logger":"{ACCESS_LOGGER}"'
SETTLE_POLL_S = 0.05
SETTLE_TIMEOUT_S = 3.0


def access_durations(text: str) -> list[float]:
    """`duration_ms` of every access line in `text` (JSON lines; other lines are skipped).

    A line cut off at either end of a window, or any line that is not an access line with a
    number for `duration_ms`, is not counted."""
    durations: list[float] = []
    for line in text.splitlines():
        if _LOGGER_FIELD not in line:  # cheap pre-filter: most lines of a run are access lines
            continue
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if not isinstance(record, dict) or record.get("logger") != ACCESS_LOGGER:
            continue
        duration = record.get("duration_ms")
        if isinstance(duration, int | float) and not isinstance(duration, bool):
            durations.append(float(duration))
    return durations


def percentile(sorted_values: Sequence[float], share: float) -> float:
    """The nearest-rank percentile (`share` in (0, 1]) of ascending `sorted_values`."""
    if not sorted_values:
        raise ValueError("no values")
    if not 0 < share <= 1:
        raise ValueError(f"share must be in (0, 1], got {share}")
    rank = max(1, math.ceil(len(sorted_values) * share))
    return sorted_values[rank - 1]


@dataclass(frozen=True)
class InService:
    """The in-service durations of one run (or of several pooled), in milliseconds."""

    durations_ms: tuple[float, ...]

    @classmethod
    def pooled(cls, parts: Iterable["InService"]) -> "InService":
        """Every duration of `parts` together: percentiles over all their requests."""
        return cls(tuple(d for part in parts for d in part.durations_ms))

    @property
    def lines(self) -> int:
        """How many access lines the run wrote."""
        return len(self.durations_ms)

    def _sorted(self) -> list[float]:
        return sorted(self.durations_ms)

    @property
    def p50_ms(self) -> float | None:
        """The median time inside the service, None without lines."""
        return percentile(self._sorted(), 0.5) if self.durations_ms else None

    @property
    def p99_ms(self) -> float | None:
        """The 99th percentile of the time inside the service, None without lines."""
        return percentile(self._sorted(), 0.99) if self.durations_ms else None

    @property
    def max_ms(self) -> float | None:
        """The longest time inside the service, None without lines."""
        return max(self.durations_ms) if self.durations_ms else None

    def as_dict(self) -> dict[str, Any]:
        """Count, p50, p90, p99, max and mean (ms), for the JSON report."""
        if not self.durations_ms:
            return {"lines": 0}
        values = self._sorted()
        return {
            "lines": len(values),
            "p50_ms": percentile(values, 0.5),
            "p90_ms": percentile(values, 0.9),
            "p99_ms": percentile(values, 0.99),
            "max_ms": values[-1],
            "mean_ms": round(statistics.fmean(values), 3),
        }


def settled_size(path: Path, *, timeout_s: float = SETTLE_TIMEOUT_S) -> int:
    """The size of `path` once it stopped growing for one poll (or when `timeout_s` is up).

    The service flushes its lines once per event-loop tick, after the answer went out: the
    last requests of a run are written a moment after wrk has finished."""
    deadline = time.monotonic() + timeout_s
    size = path.stat().st_size
    while True:
        time.sleep(SETTLE_POLL_S)
        now = path.stat().st_size
        if now == size or time.monotonic() >= deadline:
            return now
        size = now


@dataclass(frozen=True)
class LogWindow:
    """The part of a log file written between `start` and `finish`."""

    path: Path
    offset: int

    @classmethod
    def start(cls, path: Path) -> "LogWindow":
        """A window opening once what earlier runs wrote has landed."""
        return cls(path, settled_size(path))

    def read(self) -> str:
        """What was written since `start`, once the writes have settled."""
        end = settled_size(self.path)
        with self.path.open("rb") as log:
            log.seek(self.offset)
            return log.read(end - self.offset).decode("utf-8", errors="replace")

    def finish(self) -> InService:
        """The in-service durations of the requests answered in the window."""
        return InService(tuple(access_durations(self.read())))


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def format_table(rows: Sequence[tuple[str, InService, float, float]]) -> str:
    """Per operation: lines, in-service p50/p99/max, wrk's p50/p99, and the p50 outside.

    Each row is (operation, in-service durations, wrk p50 ms, wrk p99 ms)."""
    lines = [
        "time inside the service (its access lines' duration_ms) against wrk's latency",
        f"{'op':<7}{'lines':>8}{'svc p50':>9}{'svc p99':>9}{'svc max':>9}"
        f"{'wrk p50':>9}{'wrk p99':>9}{'outside p50':>13}",
    ]
    for operation, times, wrk_p50, wrk_p99 in rows:
        p50 = times.p50_ms
        outside = None if p50 is None else wrk_p50 - p50
        lines.append(
            f"{operation:<7}{times.lines:>8}{_ms(p50):>9}{_ms(times.p99_ms):>9}"
            f"{_ms(times.max_ms):>9}{wrk_p50:>9.2f}{wrk_p99:>9.2f}{_ms(outside):>13}"
        )
    return "\n".join(lines)
