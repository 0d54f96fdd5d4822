"""`.pre-commit-config.yaml` fetches nothing from GitHub, pins ruff as Pants does, and has the
hooks the repository relies on."""

import re
from pathlib import Path
from typing import Any

import pytest

from slipway_repo_checks.precommit import (
    Hook,
    iter_hooks,
    load_config,
    locked_version,
    parse_requirement,
    read_pants_lockfile,
    remote_repos,
)

# Repository paths; the test target depends on both files, so they are in the sandbox.
CONFIG = Path(".pre-commit-config.yaml")
LOCKFILE = Path("3rdparty/python/default.lock")

# pre-commit-hooks console scripts every commit must go through.
REQUIRED_ENTRIES = {
    "merge conflict markers": "check-merge-conflict",
    "trailing whitespace": "trailing-whitespace-fixer",
    "end of file": "end-of-file-fixer",
    "large files": "check-added-large-files",
    "private keys": "detect-private-key",
}


@pytest.fixture(scope="module")
def config() -> dict[str, Any]:
    return load_config(CONFIG)


@pytest.fixture(scope="module")
def hooks(config: dict[str, Any]) -> list[Hook]:
    return list(iter_hooks(config))


@pytest.fixture(scope="module")
def locked_ruff() -> str:
    return locked_version(read_pants_lockfile(LOCKFILE), "ruff")


def runs_on_commit(hook: Hook, config: dict[str, Any]) -> bool:
    return hook.runs_at("pre-commit", config.get("default_stages") or ())


def test_every_ruff_pin_equals_the_lockfile(hooks: list[Hook], locked_ruff: str) -> None:
    pins = {hook.id: hook.pinned_versions_of("ruff") for hook in hooks if hook.pins_of("ruff")}
    assert pins, "no hook installs ruff"
    assert {hook_id: [locked_ruff] for hook_id in pins} == pins, (
        f"3rdparty/python/default.lock has ruff {locked_ruff}: pin ruff=={locked_ruff} in "
        ".pre-commit-config.yaml so pre-commit and ./pants lint agree"
    )


def test_hooks_running_ruff_install_the_locked_ruff(hooks: list[Hook], locked_ruff: str) -> None:
    ruff_hooks = [hook for hook in hooks if hook.command == "ruff"]
    assert {hook.id for hook in ruff_hooks} >= {"ruff-check", "ruff-format"}
    for hook in ruff_hooks:
        assert hook.language == "python", hook.id
        assert hook.pinned_versions_of("ruff") == [locked_ruff], hook.id
        assert "--force-exclude" in hook.entry.split(), hook.id


def test_no_hook_repository_is_fetched(config: dict[str, Any], hooks: list[Hook]) -> None:
    assert config.get("repos"), "no hook repositories"
    assert remote_repos(config) == []
    assert hooks
    assert all(hook.repo == "local" for hook in hooks)


@pytest.mark.parametrize(("what", "entry"), sorted(REQUIRED_ENTRIES.items()))
def test_required_hook_is_present(
    what: str, entry: str, hooks: list[Hook], config: dict[str, Any]
) -> None:
    matching = [hook for hook in hooks if hook.command == entry]
    assert matching, f"no hook checks {what} (entry {entry})"
    for hook in matching:
        assert hook.language == "python", hook.id
        assert runs_on_commit(hook, config), f"{hook.id} does not run on commit"
        # The console script comes from pre-commit-hooks, pinned exactly.
        pins = hook.pinned_versions_of("pre-commit-hooks")
        assert len(pins) == 1, hook.id
        assert pins[0], f"{hook.id}: pin pre-commit-hooks to an exact version"


def test_conflict_markers_are_found_outside_a_git_merge(hooks: list[Hook]) -> None:
    # copier update leaves inline markers with no merge in progress; without this flag
    # check-merge-conflict would not look at the files at all.
    checks = [hook for hook in hooks if hook.command == "check-merge-conflict"]
    assert checks
    assert all("--assume-in-merge" in hook.args for hook in checks)


def test_rej_and_orig_files_are_blocked(hooks: list[Hook], config: dict[str, Any]) -> None:
    blockers = [hook for hook in hooks if hook.language == "fail" and runs_on_commit(hook, config)]
    blocked = [
        name
        for name in ("service/app.py.rej", "copier.yml.rej", "pyproject.toml.orig")
        if any(re.search(hook.files, name) for hook in blockers)
    ]
    assert blocked == ["service/app.py.rej", "copier.yml.rej", "pyproject.toml.orig"]
    assert not any(re.search(hook.files, "service/app.py") for hook in blockers)
    assert any("copier" in hook.entry for hook in blockers), "explain the copier conflict"


# The helpers themselves, on small inputs.


def test_lockfile_reader_skips_the_comment_header(tmp_path: Path) -> None:
    lockfile = tmp_path / "x.lock"
    lockfile.write_text(
        '// generated\n// {\n//   "version": 3\n// }\n'
        '{"locked_resolves": [{"locked_requirements": ['
        '{"project_name": "Ruff", "version": "1.2.3"}, '
        '{"project_name": "PyYAML", "version": "6.0"}]}]}\n'
    )
    data = read_pants_lockfile(lockfile)
    assert locked_version(data, "ruff") == "1.2.3"
    assert locked_version(data, "pyyaml") == "6.0"
    with pytest.raises(LookupError):
        locked_version(data, "black")


def test_pins_are_read_from_additional_dependencies(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(
        "repos:\n"
        "  - repo: https://github.com/astral-sh/ruff-pre-commit\n"
        "    rev: v0.1.0\n"
        "    hooks: [{id: ruff}]\n"
        "  - repo: local\n"
        "    hooks:\n"
        "      - {id: a, entry: ruff check, language: python,"
        " additional_dependencies: ['Ruff == 9.9.9']}\n"
        "      - {id: b, entry: ruff format, language: python,"
        " additional_dependencies: ['ruff>=0.1', 'pyyaml']}\n"
    )
    config = load_config(path)
    assert remote_repos(config) == ["https://github.com/astral-sh/ruff-pre-commit"]
    by_id = {hook.id: hook for hook in iter_hooks(config)}
    assert by_id["a"].pins_of("ruff") == ["== 9.9.9"]
    assert by_id["b"].pins_of("ruff") == [">=0.1"]
    assert by_id["a"].pinned_versions_of("ruff") == ["9.9.9"]
    assert by_id["b"].pinned_versions_of("ruff") == [None]
    assert parse_requirement("Ruff == 9.9.9").pinned_version == "9.9.9"
    assert parse_requirement("ruff>=0.1").pinned_version is None
    assert parse_requirement("pre_commit.hooks[x]==6.0.0").name == "pre-commit-hooks"
