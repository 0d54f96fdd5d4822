"""From the writer's and the subscribers' records to the latency benchmark's numbers.

Pure: percentiles over every event every subscriber received, losses per subscriber, the
table and the goal verdict (issue 11: p99 change-to-subscriber latency <= 50 ms at 100
writes/s).
"""

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

GOAL_P99_MS = 50.0
"""The change-to-subscriber p99 the issue sets as the goal..."""
GOAL_RATE_SHARE = 0.95
"""...measured at (at least this share of) the requested write rate, with no event lost."""


def percentile(sorted_values: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile (`fraction` in [0, 1]) of ascending `sorted_values`.

    The same definition as the contexts benchmark's, kept here so that this module needs
    nothing of the service.
    """
    if not sorted_values:
        raise ValueError("no values")
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"fraction {fraction} is outside [0, 1]")
    return sorted_values[max(1, math.ceil(fraction * len(sorted_values))) - 1]


@dataclass(frozen=True)
class SubscriberCounts:
    """One subscriber's unique events, repeats and per-event latencies (ms)."""

    events: int
    duplicates: int
    latencies_ms: Sequence[float]
    error: str | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "SubscriberCounts":
        """Read what `events_subscribers` wrote for one subscriber."""
        return cls(
            events=int(data["events"]),
            duplicates=int(data["duplicates"]),
            latencies_ms=[float(v) for v in data["latencies_ms"]],
            error=data.get("error"),
        )


@dataclass(frozen=True)
class LatencyResult:
    """One backend's run: the writes, what the subscribers saw, and the latency percentiles."""

    backend: str
    target_rate: float
    writes_acked: int
    writes_committed: int
    write_errors: int
    write_seconds: float
    subscribers: int
    events_received: int
    duplicates: int
    lost_per_subscriber: Sequence[int]
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float

    @property
    def writes_per_second(self) -> float:
        """Acknowledged writes per second of the write phase."""
        return self.writes_acked / self.write_seconds if self.write_seconds > 0 else 0.0

    @property
    def lost(self) -> int:
        """Versions written minus events seen, for the subscriber that missed the most."""
        return max(self.lost_per_subscriber, default=0)

    @property
    def rate_reached(self) -> bool:
        """The writer reached (nearly) the requested rate."""
        return self.writes_per_second >= GOAL_RATE_SHARE * self.target_rate

    @property
    def goal_met(self) -> bool:
        """p99 within the goal, at the requested rate, with nothing lost."""
        return self.p99_ms <= GOAL_P99_MS and self.rate_reached and self.lost <= 0

    def verdict(self) -> str:
        """The goal verdict as one line, with the reasons it was missed."""
        reasons = []
        if self.p99_ms > GOAL_P99_MS:
            reasons.append(f"p99 {self.p99_ms:.1f} ms > {GOAL_P99_MS:.0f} ms")
        if not self.rate_reached:
            reasons.append(
                f"{self.writes_per_second:.1f} writes/s < {GOAL_RATE_SHARE:.0%} of"
                f" {self.target_rate:g}"
            )
        if self.lost > 0:
            reasons.append(f"{self.lost} events lost")
        goal = f"goal p99 <= {GOAL_P99_MS:.0f} ms at {self.target_rate:g} writes/s"
        return f"{self.backend}: {goal}: " + (
            "MET" if not reasons else "MISSED (" + "; ".join(reasons) + ")"
        )

    def as_dict(self) -> dict[str, Any]:
        """The result as a JSON-ready dict."""
        return {
            "backend": self.backend,
            "target_writes_per_second": self.target_rate,
            "writes_acked": self.writes_acked,
            "writes_committed": self.writes_committed,
            "write_errors": self.write_errors,
            "write_seconds": round(self.write_seconds, 3),
            "writes_per_second": round(self.writes_per_second, 1),
            "subscribers": self.subscribers,
            "events_received": self.events_received,
            "duplicates": self.duplicates,
            "lost": self.lost,
            "lost_per_subscriber": list(self.lost_per_subscriber),
            "latency_ms": {
                "p50": round(self.p50_ms, 3),
                "p90": round(self.p90_ms, 3),
                "p99": round(self.p99_ms, 3),
                "max": round(self.max_ms, 3),
            },
            "goal": {"p99_ms": GOAL_P99_MS, "min_rate_share": GOAL_RATE_SHARE},
            "goal_met": self.goal_met,
        }


def summarize(
    backend: str,
    *,
    target_rate: float,
    writes_acked: int,
    writes_committed: int,
    write_errors: int,
    write_seconds: float,
    subscribers: Sequence[SubscriberCounts],
) -> LatencyResult:
    """Percentiles over all subscribers' events; losses per subscriber.

    `writes_committed` counts the versions the store holds after the run: wrk does not count
    a write still in flight when it stops, though its event is published.
    """
    if not subscribers:
        raise ValueError("no subscribers")
    failed = [s.error for s in subscribers if s.error]
    if failed:
        raise ValueError(f"{len(failed)} of {len(subscribers)} subscribers failed: {failed[0]}")
    latencies = sorted(v for s in subscribers for v in s.latencies_ms)
    if not latencies:
        raise ValueError(f"no event reached any subscriber ({writes_committed} writes committed)")
    return LatencyResult(
        backend=backend,
        target_rate=target_rate,
        writes_acked=writes_acked,
        writes_committed=writes_committed,
        write_errors=write_errors,
        write_seconds=write_seconds,
        subscribers=len(subscribers),
        events_received=sum(s.events for s in subscribers),
        duplicates=sum(s.duplicates for s in subscribers),
        lost_per_subscriber=[writes_committed - s.events for s in subscribers],
        p50_ms=percentile(latencies, 0.50),
        p90_ms=percentile(latencies, 0.90),
        p99_ms=percentile(latencies, 0.99),
        max_ms=latencies[-1],
    )


def format_table(results: Sequence[LatencyResult]) -> str:
    """One row per backend: rate reached, events, losses and latency percentiles."""
    lines = [
        f"{'backend':<16}{'writes/s':>10}{'events':>9}{'lost':>6}"
        f"{'p50 ms':>9}{'p90 ms':>9}{'p99 ms':>9}{'max ms':>9}"
    ]
    for r in results:
        lines.append(
            f"{r.backend:<16}{r.writes_per_second:>10.1f}{r.events_received:>9}{r.lost:>6}"
            f"{r.p50_ms:>9.1f}{r.p90_ms:>9.1f}{r.p99_ms:>9.1f}{r.max_ms:>9.1f}"
        )
    return "\n".join(lines)
