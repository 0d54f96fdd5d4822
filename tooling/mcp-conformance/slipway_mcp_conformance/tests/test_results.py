"""Verdicts of the conformance suite's checks, and the runner's exit status."""

import json
from pathlib import Path

from slipway_mcp_conformance.results import (
    Outcome,
    Verdict,
    read_checks,
    summary,
    table,
    verdict_of_checks,
)


def _check(status: str, check_id: str = "c", message: str | None = None) -> dict[str, object]:
    return {"id": check_id, "status": status, "errorMessage": message}


def test_a_failed_check_fails_the_scenario() -> None:
    verdict, note = verdict_of_checks(
        [_check("SUCCESS"), _check("FAILURE", "ping", "Expected empty object {} response")]
    )
    assert verdict is Verdict.FAIL
    assert "ping: Expected empty object {} response" in note


def test_a_scenario_with_only_warnings_and_info_fails() -> None:
    verdict, note = verdict_of_checks(
        [_check("INFO"), _check("WARNING", "session", "Server did not provide session ID")]
    )
    assert verdict is Verdict.FAIL
    assert "no check succeeded" in note
    assert "Server did not provide session ID" in note


def test_successes_pass_and_warnings_are_noted() -> None:
    verdict, note = verdict_of_checks(
        [_check("SUCCESS"), _check("SUCCESS"), _check("WARNING", "w", "no retry field")]
    )
    assert verdict is Verdict.PASS
    assert note == "2 checks passed, 1 warnings: no retry field"


def test_no_checks_fail() -> None:
    assert verdict_of_checks([])[0] is Verdict.FAIL


def test_read_checks_takes_the_newest_run_of_the_scenario(tmp_path: Path) -> None:
    for stamp, status in (
        ("2026-01-01T00-00-00-000Z", "FAILURE"),
        ("2026-01-02T00-00-00-000Z", "SUCCESS"),
    ):
        run = tmp_path / f"server-ping-{stamp}"
        run.mkdir()
        (run / "checks.json").write_text(json.dumps([_check(status)]), encoding="utf-8")
    other = tmp_path / "server-tools-list-2026-01-03T00-00-00-000Z"
    other.mkdir()
    (other / "checks.json").write_text(json.dumps([_check("FAILURE")]), encoding="utf-8")

    checks = read_checks(tmp_path, "ping")

    assert checks is not None
    assert [check["status"] for check in checks] == ["SUCCESS"]
    assert read_checks(tmp_path, "resources-list") is None


def test_any_failure_makes_the_exit_status_one() -> None:
    passing = [
        Outcome("conformance", "ping", Verdict.PASS),
        Outcome("conformance", "prompts-list", Verdict.NOT_APPLICABLE, "no prompts"),
    ]
    assert summary(passing) == ("MCP conformance: 1 passed, 0 failed, 1 not applicable", 0)
    failing = [*passing, Outcome("inspector", "tools/list", Verdict.FAIL, "exit 1")]
    assert summary(failing)[1] == 1


def test_the_table_has_one_row_per_outcome_with_its_verdict() -> None:
    rendered = table(
        [
            Outcome("conformance", "server-initialize", Verdict.PASS, "1 checks passed"),
            Outcome("inspector", "tools/list", Verdict.FAIL, "x" * 300),
        ],
        note_width=20,
    )
    lines = rendered.splitlines()
    assert lines[0].split() == ["source", "scenario", "/", "check", "result", "note"]
    assert lines[2].split()[:3] == ["conformance", "server-initialize", "pass"]
    assert lines[3].split()[:3] == ["inspector", "tools/list", "FAIL"]
    assert lines[3].endswith("x" * 17 + "...")
