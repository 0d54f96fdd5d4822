"""`slipway new` without a terminal, and in one: defaults first, asking only what has none."""

import io
from pathlib import Path
from typing import Any

import pytest
import yaml

from slipway_cli import target
from slipway_cli.commands import new
from slipway_cli.errors import SlipwayError
from slipway_cli.tests.conftest import commit_all, git


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def add_question_without_default(repo: Path) -> None:
    """Give the fixture template a question that only the user can answer."""
    copier_yml = repo / "copier.yml"
    copier_yml.write_text(copier_yml.read_text() + "ticket:\n  type: str\n  help: The ticket\n")
    commit_all(repo, "a question without a default")


def run_new(
    repo: Path, data: dict[str, str], *, kind: str = "service", defaults: bool = False
) -> str:
    """`slipway new KIND billing` from the newest release; its output."""
    out = io.StringIO()
    commit = target.choose(repo).commit
    assert new.run(repo, kind, "billing", data, vcs_ref=commit, defaults=defaults, out=out) == 0
    return out.getvalue()


def answers(repo: Path) -> dict[str, Any]:
    loaded = yaml.safe_load((repo / "services/billing/.copier-answers.yml").read_text())
    assert isinstance(loaded, dict)
    return loaded


def test_without_a_terminal_every_question_takes_its_default_or_its_data(repo: Path) -> None:
    output = run_new(repo, {})
    assert "Created services/billing" in output
    assert (repo / "services/billing/README.md").read_text() == (
        "# billing\n\nOwned by platform-team.\n"
    )
    commit_all(repo, "billing")
    assert "Created libs/billing" in run_new(repo, {}, kind="lib")


def test_without_a_terminal_a_question_without_default_names_its_data(repo: Path) -> None:
    add_question_without_default(repo)
    with pytest.raises(SlipwayError) as raised:
        run_new(repo, {})
    assert raised.value.message == (
        'the template question "ticket" has no default: pass --data ticket=VALUE'
    )
    assert git(repo, "status", "--porcelain", "-uall") == ""

    run_new(repo, {"ticket": "T-1"})
    assert answers(repo)["ticket"] == "T-1"


def test_in_a_terminal_only_the_questions_without_a_default_are_asked(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_question_without_default(repo)
    monkeypatch.setattr("sys.stdin", _Terminal())
    asked: list[str] = []

    def prompt(questions: list[dict[str, Any]], answers: dict[str, Any]) -> dict[str, Any]:
        name = questions[0]["name"]
        asked.append(name)
        return {name: "T-7"}

    monkeypatch.setattr("copier._main.unsafe_prompt", prompt)
    run_new(repo, {"owner": "payments"})
    assert asked == ["ticket"]
    recorded = answers(repo)
    assert (recorded["ticket"], recorded["owner"]) == ("T-7", "payments")


def test_defaults_never_asks_even_in_a_terminal(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_question_without_default(repo)
    monkeypatch.setattr("sys.stdin", _Terminal())
    monkeypatch.setattr("copier._main.unsafe_prompt", pytest.fail)
    with pytest.raises(SlipwayError, match=r"pass --data ticket=VALUE$"):
        run_new(repo, {}, defaults=True)
    assert not (repo / "services" / "billing").exists()
