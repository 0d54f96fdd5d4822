"""Where the server's CPU per request goes: py-spy samples attributed to the platform's layers.

During a measured run the benchmark records the server with `py-spy record --format raw
--nonblocking` (the process is never paused; py-spy runs on the load core). py-spy writes
collapsed stacks, one line per distinct stack, outermost frame first, then the sample count:

    <module> (/src/contexts/main.py:9);run (/venv/uvicorn/server.py:67);...;fetch (...) 12

Idle threads are not sampled, so samples are spent CPU. Each sample goes to one category: the
one of its innermost frame that matches a rule (`CATEGORY_RULES`: the first rule matching the
frame's full file path wins, rules match whole path segments). Frames of no interest (the
standard library's json, typing, contextlib, ...) are looked through to their callers, so
`json.dumps` called by pydantic counts as pydantic. A stack with no such frame is "other".
Shares of the samples times the measured CPU us per request give us per request per category.

py-spy sees Python frames only: time in C or Cython called from the event loop (uvloop's
callbacks, httptools' parser, asyncpg's protocol decoding rows) shows as the innermost Python
frame around it, mostly "event loop/asyncio"; time in C called from a Python function (orjson,
pydantic-core, hmac) counts for that function's category.
"""

import os
import re
import subprocess
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

OTHER = "other"
CATEGORY_RULES: tuple[tuple[str, str], ...] = (
    # The platform's middleware, one row each (slipway.logging, .observability, .web).
    ("request id (slipway.logging)", r"slipway/logging/request_id\.py"),
    ("access log (slipway.logging)", r"slipway/logging/access\.py"),
    ("tracing (slipway.observability)", r"slipway/observability/tracing\.py|opentelemetry/"),
    (
        "metrics (slipway.observability)",
        r"slipway/observability/(?!tracing\.py)|prometheus_client/",
    ),
    ("security headers (slipway.web)", r"slipway/web/security\.py"),
    ("request limits (slipway.web)", r"slipway/web/limits\.py"),
    ("rate limit (slipway.web)", r"slipway/web/ratelimit/|slipway/cache/ratelimit\.py"),
    ("problems (slipway.web)", r"slipway/web/problems\.py"),
    ("idempotency (slipway.web)", r"slipway/web/idempotency/"),
    ("body limit (slipway.web)", r"slipway/web/body_limit\.py"),
    ("platform layer (slipway.web)", r"slipway/web/platform_layer\.py"),
    ("request guard (slipway.web)", r"slipway/web/guard\.py"),
    ("precompiled routes (slipway.web)", r"slipway/web/precompiled_route\.py"),
    ("slipway.web, other", r"slipway/web/"),
    ("auth (slipway.auth, jwt)", r"slipway/auth/|jwt/|cryptography/"),
    # The service's own layers.
    ("contexts api", r"contexts/api/"),
    ("contexts domain", r"contexts/domain/"),
    ("contexts adapters", r"contexts/adapters/"),
    ("contexts, other", r"contexts/"),
    ("limit app handler", r"slipway_bench/limit_app\.py"),
    # Libraries.
    ("slipway.db", r"slipway/db/"),
    ("slipway.events", r"slipway/events/"),
    ("FastAPI native telemetry", r"fastapi/telemetry/"),
    ("FastAPI/Starlette routing, dependencies", r"(fastapi|starlette)/"),
    ("pydantic", r"pydantic(_core|_settings)?/"),
    ("SQLAlchemy", r"sqlalchemy/"),
    ("asyncpg", r"asyncpg/"),
    ("logging/structlog/orjson", r"(logging|structlog|orjson)/|slipway/logging/"),
    ("uvicorn/httptools", r"(uvicorn|httptools|h11)/"),
    ("event loop/asyncio", r"(asyncio|uvloop|concurrent)/|(selectors|threading)\.py"),
)
CATEGORIES = (*(label for label, _ in CATEGORY_RULES), OTHER)
_RULES = tuple((label, re.compile(rf"(^|/)(?:{pattern})")) for label, pattern in CATEGORY_RULES)
_FRAME_FILE = re.compile(r" \((?P<file>[^()]+?)(?::\d+)?\)$")


def frame_file(frame: str) -> str | None:
    """The file of a py-spy frame `function (path/file.py:line)`; None for other frames."""
    if frame.startswith("process "):  # `--subprocesses`: `process 12:"python -m x"`
        return None
    match = _FRAME_FILE.search(frame)
    return None if match is None else match.group("file")


def category_of_file(path: str) -> str | None:
    """The category the first matching rule gives `path`, or None (a frame of no interest)."""
    normalised = path.replace("\\", "/")
    for label, rule in _RULES:
        if rule.search(normalised):
            return label
    return None


def categorize(frames: Iterable[str]) -> str:
    """The category of one stack (outermost frame first): its innermost frame of interest."""
    for frame in reversed(list(frames)):
        path = frame_file(frame)
        if path is None:
            continue
        category = category_of_file(path)
        if category is not None:
            return category
    return OTHER


def parse_collapsed(text: str) -> Counter[str]:
    """Sample counts by stack (`a;b;c`) of py-spy's raw output; merges repeated stacks."""
    stacks: Counter[str] = Counter()
    for line in text.splitlines():
        stack, _, count = line.rstrip().rpartition(" ")
        if stack and count.isdigit():
            stacks[stack] += int(count)
    return stacks


def format_collapsed(stacks: Mapping[str, int]) -> str:
    """`stacks` as collapsed-stack text (flamegraph.pl, speedscope), most samples first."""
    ordered = sorted(stacks.items(), key=lambda item: (-item[1], item[0]))
    return "".join(f"{stack} {count}\n" for stack, count in ordered)


@dataclass(frozen=True)
class Breakdown:
    """The samples of one (operation, app), by category, with the CPU it measured."""

    samples: Mapping[str, int]
    cpu_us_per_request: float | None

    @classmethod
    def of(cls, stacks: Mapping[str, int], cpu_us_per_request: float | None) -> "Breakdown":
        """Attribute every stack of `stacks` to its category."""
        samples: Counter[str] = Counter()
        for stack, count in stacks.items():
            samples[categorize(stack.split(";"))] += count
        return cls(samples=dict(samples), cpu_us_per_request=cpu_us_per_request)

    @property
    def total(self) -> int:
        """All samples."""
        return sum(self.samples.values())

    def share(self, category: str) -> float:
        """The fraction of the samples in `category` (0.0 without samples)."""
        return self.samples.get(category, 0) / self.total if self.total else 0.0

    def us_per_request(self, category: str) -> float | None:
        """CPU us per request spent in `category`: its share times the measured us/req."""
        if self.cpu_us_per_request is None or not self.total:
            return None
        return self.share(category) * self.cpu_us_per_request

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: per category samples, share and us/req, largest first."""
        ordered = sorted(self.samples, key=lambda c: (-self.samples[c], CATEGORIES.index(c)))
        return {
            "samples": self.total,
            "cpu_us_per_request": None
            if self.cpu_us_per_request is None
            else round(self.cpu_us_per_request, 1),
            "categories": {
                category: {
                    "samples": self.samples[category],
                    "share": round(self.share(category), 4),
                    "us_per_request": _round(self.us_per_request(category)),
                }
                for category in ordered
            },
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def _cell(breakdown: Breakdown | None, category: str) -> str:
    if breakdown is None or not breakdown.total:
        return f"{'':>8}{'':>7}"
    if not breakdown.samples.get(category):
        return f"{'-':>8}{'':>7}"
    us = breakdown.us_per_request(category)
    return f"{'n/a' if us is None else f'{us:.0f}':>8}{breakdown.share(category):>7.1%}"


def format_breakdown(operation: str, breakdowns: Mapping[str, Breakdown]) -> str:
    """app side by side (columns) x category (rows, the first app's largest first): us/req."""
    apps = list(breakdowns)
    first = breakdowns[apps[0]] if apps else None
    used = [c for c in CATEGORIES if any(b.samples.get(c) for b in breakdowns.values())]
    if first is not None:
        used.sort(key=lambda c: (-first.samples.get(c, 0), CATEGORIES.index(c)))
    width = max([len("where the CPU per request goes"), *map(len, used)]) + 2
    lines = [
        f"{operation} {'where the CPU per request goes':<{width - len(operation) - 1}}"
        + "".join(f"{app:>15}" for app in apps),
        f"{'':<{width}}" + "".join(f"{'us/req':>8}{'share':>7}" for _ in apps),
    ]
    lines += [f"{c:<{width}}" + "".join(_cell(breakdowns[a], c) for a in apps) for c in used]
    measured = "".join(
        f"{'n/a' if b.cpu_us_per_request is None else f'{b.cpu_us_per_request:.0f}':>8}{b.total:>7}"
        for b in breakdowns.values()
    )
    lines.append(f"{'measured us/req, samples':<{width}}{measured}")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# Running py-spy.

PYSPY_MISSING = "py-spy not found: install it with `pip install py-spy`"
DEFAULT_RATE = 250


def pyspy_command(
    pyspy: str, pid: int, output: Path, *, duration_s: int, rate: int, subprocesses: bool
) -> list[str]:
    """The py-spy argv recording `pid` (and its children) for `duration_s` as collapsed stacks."""
    command = [
        pyspy,
        "record",
        "--pid",
        str(pid),
        "--rate",
        str(rate),
        "--format",
        "raw",
        "--nonblocking",
        "--duration",
        str(duration_s),
        "--full-filenames",  # short names drop `slipway/` off the namespace packages' files
        "--output",
        str(output),
    ]
    return [*command, "--subprocesses"] if subprocesses else command


@dataclass
class Recording:
    """A py-spy recording under way: `finish()` waits for it and reads its stacks."""

    process: subprocess.Popen[bytes]
    output: Path
    duration_s: int

    def finish(self) -> Counter[str]:
        """Wait for py-spy; the collapsed stacks it wrote (RuntimeError if it failed)."""
        try:
            _, stderr = self.process.communicate(timeout=self.duration_s + 60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.communicate()
            raise RuntimeError("py-spy did not finish") from None
        if self.process.returncode != 0 or not self.output.exists():
            raise RuntimeError(
                f"py-spy exited {self.process.returncode}: {stderr.decode(errors='replace')}"
            )
        return parse_collapsed(self.output.read_text(encoding="utf-8", errors="replace"))


def start_recording(command: list[str], output: Path, *, cpu: int | None) -> Recording:
    """Start py-spy (pinned to `cpu` when given); the command's `--duration` bounds it."""
    duration = int(command[command.index("--duration") + 1])
    process = subprocess.Popen(  # noqa: S603 - argv built by pyspy_command, no shell
        command,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        preexec_fn=None if cpu is None else lambda: os.sched_setaffinity(0, {cpu}),
    )
    return Recording(process=process, output=output, duration_s=duration)
