"""Outcomes of the checks, their verdicts and the closing table."""

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any


class Verdict(StrEnum):
    """What one row of the table says."""

    PASS = "pass"  # noqa: S105 - a verdict, not a password
    FAIL = "FAIL"
    NOT_APPLICABLE = "n/a"


@dataclass(frozen=True)
class Outcome:
    """One row: a conformance scenario or an inspector check."""

    source: str  # "conformance" or "inspector"
    name: str
    verdict: Verdict
    note: str = ""


def verdict_of_checks(checks: Sequence[dict[str, Any]]) -> tuple[Verdict, str]:
    """A scenario's verdict from its `checks.json`: no FAILURE and at least one SUCCESS.

    A scenario that only produced WARNING or INFO checks did not test what it is run for
    (for example a multiple-streams test that found no session), so it fails too.
    """
    statuses = [str(check.get("status", "")) for check in checks]
    failures = [check for check in checks if check.get("status") == "FAILURE"]
    warnings = [check for check in checks if check.get("status") == "WARNING"]
    passed = statuses.count("SUCCESS")
    if failures:
        first = failures[0]
        message = str(first.get("errorMessage") or first.get("description") or first.get("id"))
        return Verdict.FAIL, f"{len(failures)} failed: {first.get('id')}: {message}"
    if passed == 0:
        detail = "; ".join(str(w.get("errorMessage") or w.get("id")) for w in warnings)
        return Verdict.FAIL, "no check succeeded" + (f" ({detail})" if detail else "")
    note = f"{passed} checks passed"
    if warnings:
        note += f", {len(warnings)} warnings: " + "; ".join(
            str(w.get("errorMessage") or w.get("id")) for w in warnings
        )
    return Verdict.PASS, note


def read_checks(output_dir: Path, scenario: str) -> list[dict[str, Any]] | None:
    """The newest `server-<scenario>-<timestamp>/checks.json` the suite wrote, if any."""
    found = sorted(output_dir.glob(f"server-{scenario}-*/checks.json"))
    if not found:
        return None
    loaded = json.loads(found[-1].read_text(encoding="utf-8"))
    if not isinstance(loaded, list):
        return None
    return [check for check in loaded if isinstance(check, dict)]


def table(outcomes: Iterable[Outcome], *, note_width: int = 100) -> str:
    """The outcomes as a plain-text table: source, name, verdict, note."""
    rows = [(o.source, o.name, o.verdict.value, _clip(o.note, note_width)) for o in outcomes]
    header = ("source", "scenario / check", "result", "note")
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(3)]
    lines = []
    for row in [header, *rows]:
        cells = [row[i].ljust(widths[i]) for i in range(3)]
        lines.append("  ".join([*cells, row[3]]).rstrip())
    lines.insert(1, "  ".join("-" * width for width in widths) + "  ----")
    return "\n".join(lines)


def summary(outcomes: Sequence[Outcome]) -> tuple[str, int]:
    """The closing line and the exit status: 1 if any applicable check failed."""
    counts = {verdict: sum(o.verdict is verdict for o in outcomes) for verdict in Verdict}
    line = (
        f"MCP conformance: {counts[Verdict.PASS]} passed, {counts[Verdict.FAIL]} failed, "
        f"{counts[Verdict.NOT_APPLICABLE]} not applicable"
    )
    return line, 1 if counts[Verdict.FAIL] else 0


def _clip(text: str, width: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 3] + "..."
