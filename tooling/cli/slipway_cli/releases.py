"""Template releases, recorded in main's history rather than in tags.

`templates/releases.yml` lists the releases, newest first. The top entry is the version of the
templates in that tree: a change to a template input (`copier.yml`, `templates/`) lands with a new
top entry, in the same commit. The commit of a release is the newest commit, in the history of
HEAD, that touched a template input while the release was on top; releases made before the file
existed name their commit in the entry. Everything here needs only the history of the current
branch, so a fresh clone (full depth) knows every project's version and the newest release.

This module is imported by the CLI and run by Copier itself (`copier_guard.py`, with Copier's
interpreter), so it needs nothing beyond the standard library, PyYAML and packaging.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from packaging.version import InvalidVersion, Version

RELEASES_FILE = "templates/releases.yml"
# What a stamp or update depends on (git pathspecs): copier.yml and templates/, but not the
# documentation at the top of templates/, which nothing renders.
TEMPLATE_INPUTS: tuple[str, ...] = ("copier.yml", "templates", ":(exclude,glob)templates/*.md")
# What a project's files are rendered from: the same, less the release record (whose notes can
# change without changing what any project holds). A change here needs a new release.
RENDERED_INPUTS: tuple[str, ...] = (*TEMPLATE_INPUTS, f":(exclude){RELEASES_FILE}")
# The branch whose history ships: a release must be on it before projects record it.
MAIN_REFS: tuple[str, ...] = ("refs/heads/main", "refs/remotes/origin/main")
_SHA = re.compile(r"^[0-9a-f]{40}$")


class ReleaseError(Exception):
    """The release record or the history cannot answer: said in one message."""


@dataclass(frozen=True)
class Release:
    """One template release: its version and the full hash of its commit on main."""

    version: Version
    commit: str

    def __str__(self) -> str:
        return f"{self.version} ({self.commit[:12]})"


def git(root: Path, *args: str, check: bool = True, stdin: str | None = None) -> str | None:
    """`git ARGS` in `root`, fed `stdin`: stdout, or None when it fails and not `check`."""
    try:
        completed = subprocess.run(  # noqa: S603 - fixed argv, no shell
            ["git", *args],  # noqa: S607 - git from PATH, as the user's own shell finds it
            cwd=root,
            input=stdin,
            capture_output=True,
            text=True,
            check=False,
        )
    except FileNotFoundError as error:
        raise ReleaseError("git was not found on PATH: install git and retry.") from error
    if completed.returncode != 0:
        if check:
            detail = completed.stderr.strip() or completed.stdout.strip()
            raise ReleaseError(f"`git {' '.join(args)}` failed in {root}: {detail}")
        return None
    return completed.stdout


def parse_version(text: object, where: str) -> Version:
    """A release version: PEP 440, written without a leading `v` (`0.2.0`)."""
    if not isinstance(text, str) or text.startswith("v"):
        raise ReleaseError(f"{where}: a release version is a string like 0.2.0, got {text!r}")
    try:
        return Version(text)
    except InvalidVersion as error:
        raise ReleaseError(f"{where}: {text!r} is not a PEP 440 version") from error


@dataclass(frozen=True)
class Entry:
    """One entry of releases.yml: the version, and the commit when the entry names it."""

    version: Version
    commit: str | None


def parse_entries(text: str, where: str = RELEASES_FILE) -> list[Entry]:
    """The entries of a releases.yml text, newest first, checked: versions strictly decrease."""
    try:
        document: Any = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ReleaseError(f"{where} is not valid YAML: {error}") from error
    items = document.get("releases") if isinstance(document, dict) else None
    if not isinstance(items, list) or not items:
        raise ReleaseError(f"{where}: expected `releases:`, a non-empty list, newest first")
    entries: list[Entry] = []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise ReleaseError(f"{where}: release #{index + 1} is not a mapping")
        version = parse_version(item.get("version"), f"{where}, release #{index + 1}")
        commit = item.get("commit")
        if commit is not None and (not isinstance(commit, str) or not _SHA.match(commit)):
            raise ReleaseError(f"{where}: release {version} names {commit!r}, not a full hash")
        if entries and not version < entries[-1].version:
            raise ReleaseError(
                f"{where}: {version} is listed below {entries[-1].version}; "
                "releases go newest first, each version once"
            )
        entries.append(Entry(version, commit))
    return entries


def read_entries_at(root: Path, commit: str) -> list[Entry] | None:
    """The entries of releases.yml at `commit`, or None when that tree has no such file."""
    text = git(root, "show", f"{commit}:{RELEASES_FILE}", check=False)
    if text is None:
        return None
    return parse_entries(text, f"{RELEASES_FILE} at {commit[:12]}")


def commit_exists(root: Path, ref: str) -> bool:
    """Whether `ref` names a commit of this repository."""
    found = git(root, "rev-parse", "--quiet", "--verify", f"{ref}^{{commit}}", check=False)
    return found is not None


def is_ancestor(root: Path, older: str, newer: str) -> bool:
    """Whether `older` is `newer` or one of its ancestors."""
    return git(root, "merge-base", "--is-ancestor", older, newer, check=False) is not None


def is_shallow(root: Path) -> bool:
    """Whether the clone is shallow (part of the history is missing)."""
    return (git(root, "rev-parse", "--is-shallow-repository") or "").strip() == "true"


def dirty_template_inputs(root: Path) -> list[str]:
    """Template inputs with uncommitted changes, staged changes or untracked files."""
    out = git(root, "status", "--porcelain", "--untracked-files=all", "--", *TEMPLATE_INPUTS)
    return sorted(line[3:] for line in (out or "").splitlines() if line.strip())


def releases(root: Path, head: str = "HEAD") -> list[Release]:
    """Every release of the history of `head`, newest first, each with its commit.

    A shallow clone is refused: its oldest commit would seem to add every template input."""
    if is_shallow(root):
        raise ReleaseError(
            "this clone is shallow: template releases need main's full history "
            "(`git fetch --unshallow`; in CI, check out with `fetch-depth: 0`)."
        )
    current = read_entries_at(root, head)
    if current is None:
        raise ReleaseError(
            f"{RELEASES_FILE} is missing at {head}: the repository records no template release."
        )
    found: dict[Version, str] = {e.version: e.commit for e in current if e.commit}
    wanted = {e.version for e in current} - set(found)
    if wanted:
        rendered = set(
            (git(root, "log", "--format=%H", head, "--", *RENDERED_INPUTS) or "").split()
        )
        log = git(root, "log", "--format=%H", head, "--", *TEMPLATE_INPUTS) or ""
        for commit in log.split():
            entries = read_entries_at(root, commit)
            if entries is None:
                break  # older commits predate the file
            top = entries[0].version
            # A release's commit changes what is rendered, or is where its entry came on top;
            # a later edit of the notes alone does not move it.
            if top in wanted and (commit in rendered or _introduces(root, commit, top)):
                found[top] = commit
                wanted.discard(top)
            if not wanted:
                break
    if wanted:
        missing = ", ".join(str(v) for v in sorted(wanted, reverse=True))
        raise ReleaseError(
            f"no commit in the history of {head} made release {missing} "
            f"(the top entry of {RELEASES_FILE})."
        )
    return [Release(e.version, found[e.version]) for e in current]


def _introduces(root: Path, commit: str, version: Version) -> bool:
    """Whether `commit` put `version` on top of the record (its first parent had another)."""
    if not commit_exists(root, f"{commit}^"):
        return True
    before = read_entries_at(root, f"{commit}^")
    return before is None or before[0].version != version


def on_main(root: Path, commit: str) -> bool:
    """Whether `commit` is in main's history; True when this clone has no main ref to ask."""
    refs = [ref for ref in MAIN_REFS if commit_exists(root, ref)]
    return not refs or any(is_ancestor(root, commit, ref) for ref in refs)


def not_on_main_message(release: Release) -> str:
    """Why a release on a branch is not recorded, and what to do."""
    return (
        f"release {release} is not on main yet: merge it, then stamp or update from main, so "
        "projects record a commit that ships (a squash merge would leave them naming a commit "
        "that exists nowhere)."
    )


def find(all_releases: Sequence[Release], version: Version) -> Release | None:
    """The release with `version`, if there is one."""
    return next((r for r in all_releases if r.version == version), None)


def version_of(root: Path, commit: str, all_releases: Sequence[Release]) -> Version | None:
    """The template version a commit renders: its releases.yml's top entry, or for a commit
    older than the file, the newest release whose commit is that commit or an ancestor."""
    if not commit_exists(root, commit):
        return None
    entries = read_entries_at(root, commit)
    if entries is not None:
        return entries[0].version
    for release in all_releases:
        if is_ancestor(root, release.commit, commit):
            return release.version
    return None


def missing_commit_message(root: Path, project: str, commit: str) -> str:
    """Why a project's recorded `_commit` cannot be used, with what to do about it."""
    return (
        f"{project} records template commit {commit!r}, which is not a commit of this "
        "repository's history: projects must record a release commit on main "
        "(templates/README.md, 'Releases')."
    )


def same_templates(root: Path, first: str, second: str) -> bool:
    """Whether two commits hold the same template inputs (so they render the same files)."""
    return (
        git(root, "diff", "--quiet", first, second, "--", *TEMPLATE_INPUTS, check=False) is not None
    )
