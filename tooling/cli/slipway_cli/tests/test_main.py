"""The command line itself: help, exit codes and one-line errors instead of tracebacks."""

from pathlib import Path

import pytest

from slipway_cli.main import main
from slipway_cli.tests.conftest import commit_all, git


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


def test_a_refused_name_is_the_template_s_own_message_on_one_line(
    repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # The rule is the template's validator (the real one: test_names.py); give the fixture one.
    copier_yml = repo / "copier.yml"
    rule = '  validator: "{% if name != name | lower %}use lowercase letters{% endif %}"\n'
    copier_yml.write_text(
        copier_yml.read_text().replace("name:\n  type: str\n", f"name:\n  type: str\n{rule}")
    )
    commit_all(repo, "a rule for names")
    monkeypatch.chdir(repo / "services")  # the root is found from any directory inside it
    assert main(["new", "service", "BadName"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        "slipway: error: Validation error for question 'name': use lowercase letters\n"
    )
    assert git(repo, "status", "--porcelain") == ""


def test_a_question_without_default_is_one_line_naming_its_data(
    repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    copier_yml = repo / "copier.yml"
    copier_yml.write_text(copier_yml.read_text() + "ticket:\n  type: str\n")
    commit_all(repo, "a question without a default")
    monkeypatch.chdir(repo)
    assert main(["new", "service", "billing"]) == 2  # no terminal under pytest
    assert capsys.readouterr().err == (
        'slipway: error: the template question "ticket" has no default: pass --data ticket=VALUE\n'
    )
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
