"""From repeated runs to the numbers the benchmark reports: medians, ratios, the goal."""

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from slipway_bench.wrk import WrkResult

MIN_THROUGHPUT_RATIO = 0.85
"""The platform must keep at least this share of the bare app's requests per second..."""
MAX_P99_RATIO = 1.25
"""...with a p99 latency at most this multiple of the bare app's."""


@dataclass(frozen=True)
class Summary:
    """Medians over the measured runs of one app."""

    runs: int
    requests_per_second: float
    p50_ms: float
    p99_ms: float

    def as_dict(self) -> dict[str, Any]:
        """The summary as a JSON-ready dict."""
        return {
            "runs": self.runs,
            "requests_per_second": round(self.requests_per_second, 1),
            "p50_ms": round(self.p50_ms, 3),
            "p99_ms": round(self.p99_ms, 3),
        }


def summarize(results: Sequence[WrkResult]) -> Summary:
    """Median req/s, p50 and p99 of `results` (each taken on its own)."""
    if not results:
        raise ValueError("no runs to summarize")
    return Summary(
        runs=len(results),
        requests_per_second=statistics.median(r.requests_per_second for r in results),
        p50_ms=statistics.median(r.p50_ms for r in results),
        p99_ms=statistics.median(r.p99_ms for r in results),
    )


@dataclass(frozen=True)
class Verdict:
    """How the platform compares to the bare app, and whether the goal is met."""

    throughput_ratio: float  # platform req/s / bare req/s
    p50_ratio: float
    p99_ratio: float  # platform p99 / bare p99

    @property
    def throughput_ok(self) -> bool:
        """The platform keeps enough of the bare throughput."""
        return self.throughput_ratio >= MIN_THROUGHPUT_RATIO

    @property
    def p99_ok(self) -> bool:
        """The platform's p99 stays close enough to the bare one."""
        return self.p99_ratio <= MAX_P99_RATIO

    @property
    def met(self) -> bool:
        """Both parts of the goal hold."""
        return self.throughput_ok and self.p99_ok

    def as_dict(self) -> dict[str, Any]:
        """The verdict as a JSON-ready dict."""
        return {
            "throughput_ratio": round(self.throughput_ratio, 3),
            "p50_ratio": round(self.p50_ratio, 3),
            "p99_ratio": round(self.p99_ratio, 3),
            "goal": {"min_throughput_ratio": MIN_THROUGHPUT_RATIO, "max_p99_ratio": MAX_P99_RATIO},
            "throughput_ok": self.throughput_ok,
            "p99_ok": self.p99_ok,
            "met": self.met,
        }


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator > 0 else float("inf")


def compare(bare: Summary, platform: Summary) -> Verdict:
    """The platform's numbers relative to the bare app's."""
    return Verdict(
        throughput_ratio=_ratio(platform.requests_per_second, bare.requests_per_second),
        p50_ratio=_ratio(platform.p50_ms, bare.p50_ms),
        p99_ratio=_ratio(platform.p99_ms, bare.p99_ms),
    )
