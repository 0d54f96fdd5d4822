"""`slipway update [NAME ... | --all] [--release VERSION]`: bring projects to a release.

Each project is `copier update`d to the release's commit on main (the newest release unless
named), conflicts left inline; a project already there is left alone. One line per project.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from slipway_cli import gitrepo, projects, releases, target, templating
from slipway_cli.errors import EXIT_ATTENTION, EXIT_OK, SlipwayError

# Copier's inline conflict markers (`conflict="inline"`).
CONFLICT_MARKERS = (b"<<<<<<< before updating", b">>>>>>> after updating")
_DIRTY_SHOWN = 5


@dataclass(frozen=True)
class Outcome:
    """What updating one project did: `status` is updated, current, conflicts or failed."""

    project: str
    status: str
    before: str
    after: str
    changed: tuple[str, ...] = ()
    conflicts: tuple[str, ...] = ()
    error: str = ""

    def describe(self) -> str:
        """The outcome as report lines: the first names the project, the rest are indented."""
        if self.status == "current":
            return f"{self.project}: already current ({self.before})"
        if self.status == "failed":
            return f"{self.project}: failed\n" + _indent(self.error)
        versions_moved = f"{self.before} -> {self.after}"
        if self.status == "conflicts":
            return f"{self.project}: conflicts ({versions_moved}) in\n" + _indent(
                "\n".join(self.conflicts)
            )
        count = len(self.changed)
        return f"{self.project}: updated {versions_moved}, {count} file{'s' * (count != 1)} changed"


def _indent(text: str) -> str:
    return "\n".join(f"    {line}" for line in text.splitlines())


def has_conflict_markers(path: Path) -> bool:
    """Whether `path` holds a line that starts with one of Copier's inline conflict markers."""
    try:
        lines = path.read_bytes().splitlines()
    except OSError:
        return False
    return any(line.startswith(CONFLICT_MARKERS) for line in lines)


def find_conflicts(root: Path, project: str, changed: Sequence[str]) -> tuple[str, ...]:
    """Changed files of `project` holding inline conflict markers, and any `*.rej` files.

    `*.rej` files are searched on disk too: a `.gitignore` may hide them from `git status`.
    """
    found = {path for path in changed if has_conflict_markers(root / path)}
    found.update(
        rej.relative_to(root).as_posix()
        for rej in (root / project).rglob("*.rej")
        if ".git" not in rej.parts
    )
    return tuple(sorted(found))


def refuse_dirty_projects(root: Path, selected: Sequence[projects.Project]) -> None:
    """Raise when a selected project has uncommitted changes: its update must be reviewable on
    its own (changes elsewhere in the tree do not matter)."""
    dirty = gitrepo.status_paths(root, *(p.path for p in selected))
    if dirty:
        shown = "\n".join(f"  {path}" for path in dirty[:_DIRTY_SHOWN])
        more = f"\n  ... and {len(dirty) - _DIRTY_SHOWN} more" if len(dirty) > _DIRTY_SHOWN else ""
        raise SlipwayError(
            "projects to update have uncommitted changes; commit or stash them first, so the "
            f"update's changes can be reviewed on their own:\n{shown}{more}"
        )


def update_one(
    root: Path, project: projects.Project, to: releases.Release, known: Sequence[releases.Release]
) -> Outcome:
    """Update one project to the release `to`; a project already there is not touched."""
    before = project.commit
    if not releases.commit_exists(root, before):
        return Outcome(
            project.path, "failed", before, before,
            error=releases.missing_commit_message(root, project.path, before),
        )  # fmt: skip
    version = releases.version_of(root, before, known)
    label = f"{version}" if version is not None else before[:12]
    if version is not None and version > to.version:
        return Outcome(
            project.path, "failed", label, label,
            error=f"it is on {version}, newer than {to.version}: downgrades are not supported",
        )  # fmt: skip
    if version == to.version and releases.same_templates(root, before, to.commit):
        return Outcome(project.path, "current", label, label)
    try:
        with gitrepo.unmerged_set_aside(root):
            templating.update(root, project.path, vcs_ref=to.commit)
    except SlipwayError as error:
        return Outcome(project.path, "failed", label, label, error=error.message)
    after = str(to.version)
    changed = tuple(gitrepo.status_paths(root, project.path))
    conflicts = find_conflicts(root, project.path, changed)
    if conflicts:
        return Outcome(project.path, "conflicts", label, after, changed, conflicts)
    if not changed:
        return Outcome(project.path, "current", label, after)
    return Outcome(project.path, "updated", label, after, changed)


def run(
    root: Path,
    names: Sequence[str],
    *,
    update_all: bool = False,
    release: str | None = None,
    out: TextIO,
) -> int:
    """Update the named projects (or all) to `release` (default: the newest), one outcome each;
    1 on conflicts or failures."""
    known = projects.discover(root)
    if names and update_all:
        raise SlipwayError("name projects or pass --all, not both.")
    if not names and not update_all:
        listing = ", ".join(p.path for p in known) or "none yet"
        raise SlipwayError(f"name the projects to update, or pass --all. Projects: {listing}.")
    selected = projects.select(known, names) if names else known
    if not selected:
        print("No stamped projects (services/*, libs/* with .copier-answers.yml).", file=out)
        return EXIT_OK
    all_releases = target.all_releases(root)
    to = target.choose(root, release, all_releases)
    refuse_dirty_projects(root, selected)
    outcomes = [update_one(root, project, to, all_releases) for project in selected]
    for outcome in outcomes:
        print(outcome.describe(), file=out)
    if any(o.status == "conflicts" for o in outcomes):
        print(
            "\nResolve the conflicts (lines between `<<<<<<< before updating` and "
            "`>>>>>>> after updating`, and any *.rej files), then review `git diff` and commit.",
            file=out,
        )
    if any(o.status in ("conflicts", "failed") for o in outcomes):
        return EXIT_ATTENTION
    return EXIT_OK
