from pathlib import Path

import pytest

from slipway_ci.junit_summary import Counts, main, summarize

SUITE = (
    '<testsuite name="pytest" tests="{tests}" failures="{failures}" errors="{errors}" '
    'skipped="{skipped}"></testsuite>'
)


def write_report(directory: Path, name: str, **counts: int) -> Path:
    path = directory / name
    path.write_text(SUITE.format(**counts))
    return path


def test_counts_are_summed_over_reports_and_errors_count_as_failures(tmp_path: Path) -> None:
    one = write_report(tmp_path, "a.xml", tests=10, failures=1, errors=1, skipped=2)
    two = write_report(tmp_path, "b.xml", tests=5, failures=0, errors=0, skipped=0)

    assert summarize([one, two]) == Counts(passed=11, failed=2, skipped=2)


def test_testsuites_root_is_read_too(tmp_path: Path) -> None:
    path = tmp_path / "c.xml"
    inner = SUITE.format(tests=3, failures=0, errors=0, skipped=1)
    path.write_text(f"<testsuites>{inner}{inner}</testsuites>")

    assert summarize([path]) == Counts(passed=4, failed=0, skipped=2)


def test_main_prints_the_closing_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    nested = tmp_path / "nested"
    nested.mkdir()
    write_report(nested, "d.xml", tests=7, failures=2, errors=0, skipped=0)

    assert main([str(tmp_path)]) == 0

    assert capsys.readouterr().out == "tests: 5 passed, 2 failed, 0 skipped\n"


def test_main_refuses_a_missing_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([str(tmp_path / "absent")]) == 2
    assert "usage:" in capsys.readouterr().err
