"""Unit tests for the affected-only CI script: pure planning, plus git-only runs (no Pants)."""

import os
import shlex
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from slipway_ci.affected import (
    CiError,
    GitRunner,
    Plan,
    changed_files,
    default_base,
    describe,
    explicit_base,
    list_commands,
    main,
    make_git,
    make_plan,
    step_commands,
)
from slipway_ci.inputs import GLOBAL_INPUTS, PROJECT_INPUTS, is_global_input

# Stands in for ./pants: records each call's arguments, fails when $FAKE_PANTS_FAIL is set.
FAKE_PANTS = """\
#!/usr/bin/env bash
printf '%s\\n' "$*" >> "$(dirname "$0")/pants-calls.log"
[[ -z "${FAKE_PANTS_FAIL:-}" ]]
"""
# Stands in for tooling/template_tests/run, logging to the same file.
FAKE_TEMPLATE_TESTS = """\
#!/usr/bin/env bash
printf 'template tests\\n' >> pants-calls.log
"""
TEMPLATE_COMMANDS = ["./pants run tooling/cli -- drift", "tooling/template_tests/run"]
CHANGED_COMMANDS = [
    "./pants --changed-since=abc tailor --check update-build-files --check lint",
    "./pants --changed-since=abc --changed-dependents=transitive check test",
]


def project_commands(*specs: str) -> list[str]:
    """The two steps that run on every target in `specs` (`DIR::`)."""
    flags, targets = "./pants --unmatched-cli-globs=ignore", " ".join(specs)
    return [
        f"{flags} tailor --check update-build-files --check lint {targets}",
        f"{flags} check test {targets}",
    ]


def fake_git(answers: Mapping[str, str | None]) -> GitRunner:
    """A GitRunner answering from `answers`, keyed on the git subcommand; others fail."""

    def git(args: Sequence[str]) -> str | None:
        return answers.get(args[0])

    return git


def plan_for(*changed: str) -> Plan:
    """The plan for a change to the paths `changed` since base `abc`."""
    return make_plan("abc", fake_git({"diff": "\n".join(changed), "ls-files": ""}))


def commands_for(*changed: str) -> list[str]:
    """The command lines CI runs for a change to the paths `changed` since base `abc`."""
    return [shlex.join(command) for command in step_commands(plan_for(*changed))]


def git(repo: Path, *args: str) -> str:
    """Run git in `repo` with a fixed identity and no user config; return stdout."""
    env = {
        **os.environ,
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": "CI Test",
        "GIT_AUTHOR_EMAIL": "ci@example.invalid",
        "GIT_COMMITTER_NAME": "CI Test",
        "GIT_COMMITTER_EMAIL": "ci@example.invalid",
    }
    done = subprocess.run(
        ["git", *args], cwd=repo, env=env, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A git repository with one commit holding a fake ./pants and a service file; cwd is it."""
    root = tmp_path / "repo"
    (root / "services/s1").mkdir(parents=True)
    (root / "services/s1/main.py").write_text("X = 1\n")
    (root / "pants").write_text(FAKE_PANTS)
    (root / "pants").chmod(0o755)
    (root / "tooling/template_tests").mkdir(parents=True)
    (root / "tooling/template_tests/run").write_text(FAKE_TEMPLATE_TESTS)
    (root / "tooling/template_tests/run").chmod(0o755)
    (root / ".gitignore").write_text("pants-calls.log\n")
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "init")
    monkeypatch.chdir(root)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    return root


def pants_calls(repo: Path) -> list[str]:
    """The argument lines the fake ./pants was called with."""
    log = repo / "pants-calls.log"
    return log.read_text().splitlines() if log.exists() else []


@pytest.mark.parametrize(
    "path",
    [
        "pants.toml",
        "pants",
        "BUILD",
        "pyproject.toml",
        "ruff.toml",
        ".ruff.toml",
        "setup.cfg",
        "pytest.ini",
        "tox.ini",
        ".gitignore",
        "3rdparty/python/default.lock",
        "3rdparty/python/requirements.txt",
        "tooling/pants-plugins/slipway_ruff/rules.py",
        ".ci/run",
        ".github/workflows/ci.yml",
        ".pre-commit-config.yaml",
        "copier.yml",
        "services/BUILD",
        "libs/BUILD",
    ],
)
def test_global_inputs_match(path: str) -> None:
    assert is_global_input(path)


@pytest.mark.parametrize(
    "path",
    [
        "libs/config/BUILD",
        "services/s1/pants.toml",
        "README.md",
        "3rdparty",
        "3rdpartyx/file",
        "tooling/ci/affected",
        "tooling/pants-plugins-old/x.py",
        ".github/CODEOWNERS",
        "pants.toml.bak",
    ],
)
def test_other_paths_are_not_global_inputs(path: str) -> None:
    assert not is_global_input(path)


def test_global_inputs_are_relative_and_unique() -> None:
    assert len(set(GLOBAL_INPUTS)) == len(GLOBAL_INPUTS)
    assert not any(p.startswith("/") or p.endswith("/") for p in GLOBAL_INPUTS)


def test_default_base_prefers_the_merge_base_with_origin_main() -> None:
    assert default_base(fake_git({"merge-base": "m" * 40, "rev-parse": "p" * 40})) == "m" * 40


def test_default_base_falls_back_to_the_parent_commit() -> None:
    assert default_base(fake_git({"merge-base": None, "rev-parse": "p" * 40})) == "p" * 40


def test_default_base_is_none_without_origin_main_or_parent() -> None:
    assert default_base(fake_git({})) is None


def test_explicit_base_uses_the_merge_base_with_head() -> None:
    assert explicit_base("origin/main", fake_git({"rev-parse": "r", "merge-base": "m"})) == "m"


def test_explicit_base_without_merge_base_uses_the_ref_itself() -> None:
    assert explicit_base("v1", fake_git({"rev-parse": "r", "merge-base": None})) == "r"


def test_explicit_base_rejects_an_unknown_ref() -> None:
    with pytest.raises(CiError, match="unknown git ref 'nope'"):
        explicit_base("nope", fake_git({}))


def test_changed_plan_runs_checks_on_changed_and_tests_on_dependents() -> None:
    plan = Plan(base="abc", changed=("services/s1/main.py",), global_hits=())

    assert not plan.everything
    assert [shlex.join(command) for command in step_commands(plan)] == [
        "./pants --changed-since=abc tailor --check update-build-files --check lint",
        "./pants --changed-since=abc --changed-dependents=transitive check test",
    ]
    assert [shlex.join(command) for command in list_commands(plan)] == [
        "./pants --changed-since=abc --changed-dependents=transitive list"
    ]


@pytest.mark.parametrize(
    "path",
    [
        "templates/service/README.md.jinja",
        "templates/releases.yml",
        "libs/web/slipway/web/app.py",
        "copier.yml",
    ],
)
def test_template_inputs_add_drift_and_the_template_scenarios(path: str) -> None:
    plan = Plan(base="abc", changed=(path,), global_hits=())

    assert plan.templates
    assert [shlex.join(command) for command in step_commands(plan)][2:] == TEMPLATE_COMMANDS


def test_a_service_change_runs_no_template_scenarios() -> None:
    plan = Plan(base="abc", changed=("services/s1/src/s1/main.py",), global_hits=())

    assert not plan.templates
    assert len(step_commands(plan)) == 2


@pytest.mark.parametrize(
    ("path", "directory"),
    [
        ("services/s1/ruff.toml", "services/s1"),
        ("services/s1/.ruff.toml", "services/s1"),
        ("services/s1/src/s1/api/ruff.toml", "services/s1/src/s1/api"),
        ("services/s1/pyproject.toml", "services/s1"),
        ("services/s1/setup.cfg", "services/s1"),
        ("services/s1/src/s1/tests/pytest.ini", "services/s1/src/s1/tests"),
        ("services/s1/tox.ini", "services/s1"),
        ("tooling/ci/ruff.toml", "tooling/ci"),
        ("services/ruff.toml", "services"),
    ],
)
def test_an_unowned_tool_config_runs_every_target_of_its_directory(
    path: str, directory: str
) -> None:
    plan = plan_for(path, "services/s2/src/s2/main.py")

    assert not plan.everything
    assert [shlex.join(command) for command in step_commands(plan)] == [
        *CHANGED_COMMANDS,
        *project_commands(f"{directory}::"),
    ]
    assert f"and on every target in {directory} ({path})" in describe(plan)


def test_a_lib_ruff_config_also_runs_the_template_steps_as_every_lib_file_does() -> None:
    assert commands_for("libs/a/ruff.toml") == [
        *CHANGED_COMMANDS,
        *project_commands("libs/a::"),
        *TEMPLATE_COMMANDS,
    ]


@pytest.mark.parametrize("project", ["services/s1", "libs/a"])
def test_copier_answers_run_the_project_and_the_template_steps(project: str) -> None:
    assert commands_for(f"{project}/.copier-answers.yml") == [
        *CHANGED_COMMANDS,
        *project_commands(f"{project}::"),
        *TEMPLATE_COMMANDS,
    ]


def test_project_inputs_select_each_directory_once_outermost_only() -> None:
    assert commands_for(
        "services/s2/ruff.toml",
        "services/s1/src/s1/api/ruff.toml",
        "services/s1/ruff.toml",
        "services/s1/src/s1/tests/pytest.ini",
    ) == [*CHANGED_COMMANDS, *project_commands("services/s1::", "services/s2::")]


def test_project_inputs_are_listed_next_to_the_changed_targets() -> None:
    assert [shlex.join(command) for command in list_commands(plan_for("libs/a/ruff.toml"))] == [
        "./pants --changed-since=abc --changed-dependents=transitive list",
        "./pants --unmatched-cli-globs=ignore list libs/a::",
    ]


@pytest.mark.parametrize(
    "path",
    [
        "docs/ruff.toml",  # no project lives there
        "services/s1/ruff.toml.bak",
        "services/s1/openapi.json",  # owned by a `file` target: --changed-since sees it
        "services/s1/src/s1/tests/conftest.py",  # owned by python_test_utils, likewise
    ],
)
def test_other_files_add_no_project_steps(path: str) -> None:
    assert commands_for(path) == CHANGED_COMMANDS


def test_tool_configs_at_the_root_are_global_inputs() -> None:
    # At the root, "its directory and below" is every target; an answers file is a project's.
    not_global = [rule.name for rule in PROJECT_INPUTS if not is_global_input(rule.name)]

    assert not_global == [".copier-answers.yml"]


def test_a_global_change_runs_everything_and_no_project_steps() -> None:
    assert commands_for("pants.toml", "services/s1/ruff.toml") == [
        "./pants tailor --check update-build-files --check lint ::",
        "./pants check test ::",
        *TEMPLATE_COMMANDS,
    ]


@pytest.mark.parametrize(
    "plan",
    [
        Plan(base="abc", changed=("pants.toml", "x.py"), global_hits=("pants.toml",)),
        Plan(base=None, changed=(), global_hits=()),
    ],
)
def test_global_change_or_no_base_runs_everything(plan: Plan) -> None:
    assert plan.everything
    assert [shlex.join(command) for command in step_commands(plan)] == [
        "./pants tailor --check update-build-files --check lint ::",
        "./pants check test ::",
        *TEMPLATE_COMMANDS,
    ]
    assert list_commands(plan) == [["./pants", "list", "::"]]
    assert "running everything" in describe(plan)


def test_changed_files_include_uncommitted_untracked_and_both_sides_of_renames(
    repo: Path,
) -> None:
    base = git(repo, "rev-parse", "HEAD")
    git(repo, "mv", "services/s1/main.py", "services/s1/app.py")
    git(repo, "commit", "-q", "-m", "rename")
    (repo / "pants").write_text(FAKE_PANTS + "# edited\n")
    (repo / "new.py").write_text("")

    changed = changed_files(base, make_git(repo))

    assert changed == ("new.py", "pants", "services/s1/app.py", "services/s1/main.py")


def test_nothing_changed_says_so_and_runs_nothing(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--base", "HEAD"]) == 0

    assert "nothing changed" in capsys.readouterr().err
    assert pants_calls(repo) == []


def test_dry_run_prints_the_plan_and_runs_nothing(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = git(repo, "rev-parse", "HEAD")
    (repo / "services/s1/main.py").write_text("X = 2\n")

    assert main(["--dry-run", "--base", "main"]) == 0

    assert capsys.readouterr().out.splitlines() == [
        f"./pants --changed-since={base} tailor --check update-build-files --check lint",
        f"./pants --changed-since={base} --changed-dependents=transitive check test",
    ]
    assert pants_calls(repo) == []


def test_runs_every_step_and_fails_when_one_fails(
    repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (repo / "services/s1/main.py").write_text("X = 2\n")
    monkeypatch.setenv("FAKE_PANTS_FAIL", "1")

    assert main(["--base", "HEAD"]) == 1

    assert len(pants_calls(repo)) == 2
    assert capsys.readouterr().err.count("FAILED:") == 2


def test_an_untracked_project_ruff_config_runs_the_project_steps(repo: Path) -> None:
    (repo / "services/s1/ruff.toml").write_text("line-length = 100\n")

    assert main(["--base", "HEAD"]) == 0

    assert pants_calls(repo)[2:] == [
        "--unmatched-cli-globs=ignore tailor --check update-build-files --check lint services/s1::",
        "--unmatched-cli-globs=ignore check test services/s1::",
    ]


def test_list_prints_the_changed_and_the_project_targets_once_each(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Each `list` answers with a target of its own and one that both select.
    (repo / "pants").write_text(
        FAKE_PANTS
        + 'echo "both:target"\n'
        + '[[ "$*" == *--changed-since* ]] && echo "changed:target" || echo "project:target"\n'
    )
    git(repo, "commit", "-q", "-am", "pants that lists")
    (repo / "services/s1/ruff.toml").write_text("line-length = 100\n")

    assert main(["--list", "--base", "HEAD"]) == 0

    assert capsys.readouterr().out.splitlines() == [
        "both:target",
        "changed:target",
        "project:target",
    ]
    assert pants_calls(repo) == [
        f"--changed-since={git(repo, 'rev-parse', 'HEAD')} --changed-dependents=transitive list",
        "--unmatched-cli-globs=ignore list services/s1::",
    ]


def test_without_a_parent_commit_runs_everything(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([]) == 0

    assert "no base commit" in capsys.readouterr().err
    assert pants_calls(repo) == [
        "tailor --check update-build-files --check lint ::",
        "check test ::",
        "run tooling/cli -- drift",
        "template tests",
    ]


def test_unknown_ref_is_one_line_and_exit_2(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--base", "no-such-branch"]) == 2

    err = capsys.readouterr().err
    assert err.startswith("affected: error: unknown git ref 'no-such-branch'")
    assert err.count("\n") == 1
    assert pants_calls(repo) == []


def test_outside_a_git_repository_is_one_line_and_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path.parent))

    assert main(["--list"]) == 2

    err = capsys.readouterr().err
    assert "is not inside a git repository" in err
    assert err.count("\n") == 1
    assert "Traceback" not in err
