"""The command line itself: help, exit codes and one-line errors instead of tracebacks."""

from pathlib import Path

import pytest

from slipway_cli.main import main
from slipway_cli.tests.conftest import git


@pytest.mark.parametrize("argv", [[], ["new"], ["update"], ["drift"]])
def test_every_command_has_help(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([*argv, "--help"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.startswith(f"usage: {' '.join(['slipway', *argv])}")


def test_bad_arguments_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["new", "widget", "billing"])
    assert exit_info.value.code == 2
    assert "invalid choice: 'widget'" in capsys.readouterr().err


def test_an_invalid_name_is_one_line_on_stderr(
    repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(repo / "services")  # the root is found from any directory inside it
    assert main(["new", "service", "BadName"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("slipway: error: invalid name 'BadName'")
    assert "Traceback" not in captured.err
    assert git(repo, "status", "--porcelain") == ""


def test_outside_a_git_repository(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["drift"]) == 2
    assert "is not inside a git repository" in capsys.readouterr().err


def test_without_git_on_path(
    repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(repo)
    monkeypatch.setenv("PATH", str(repo / "no-bin"))
    assert main(["drift"]) == 2
    assert "git was not found on PATH" in capsys.readouterr().err


def test_bad_data_and_unknown_releases_are_one_line_errors(
    repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(repo)
    assert main(["new", "service", "billing", "--defaults", "--data", "template=lib"]) == 2
    assert "comes from the command line" in capsys.readouterr().err
    assert main(["new", "service", "billing", "--defaults", "--release", "9.9.9"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("slipway: error: no release 9.9.9 in templates/releases.yml: 1.0.0")
    assert "Traceback" not in err
    assert git(repo, "status", "--porcelain") == ""
