"""`slipway update [NAME ... | --all]`: `copier update` each stamped project, one line each."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from slipway_cli import gitrepo, projects, templating, versions
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


def refuse_dirty_tree(root: Path) -> None:
    """Raise when the work tree has uncommitted changes: an update must start from a commit."""
    dirty = gitrepo.status_paths(root)
    if dirty:
        shown = "\n".join(f"  {path}" for path in dirty[:_DIRTY_SHOWN])
        more = f"\n  ... and {len(dirty) - _DIRTY_SHOWN} more" if len(dirty) > _DIRTY_SHOWN else ""
        raise SlipwayError(
            "the git work tree has uncommitted changes; commit or stash them first, so the "
            f"update's changes can be reviewed on their own:\n{shown}{more}"
        )


def update_one(
    root: Path, project: projects.Project, newest: versions.Version | None, vcs_ref: str | None
) -> Outcome:
    """Update one project; without `vcs_ref`, a project already at the newest tag is skipped."""
    base = project.version.base
    if vcs_ref is None and newest is not None and base is not None and base >= newest:
        return Outcome(project.path, "current", project.commit, project.commit)
    try:
        templating.update(root, project.path, vcs_ref=vcs_ref)
    except SlipwayError as error:
        return Outcome(project.path, "failed", project.commit, project.commit, error=error.message)
    after = projects.Project.load(root, project.path).commit
    changed = tuple(gitrepo.status_paths(root, project.path))
    conflicts = find_conflicts(root, project.path, changed)
    if conflicts:
        return Outcome(project.path, "conflicts", project.commit, after, changed, conflicts)
    if not changed:
        return Outcome(project.path, "current", project.commit, after)
    return Outcome(project.path, "updated", project.commit, after, changed)


def run(
    root: Path,
    names: Sequence[str],
    *,
    update_all: bool = False,
    vcs_ref: str | None = None,
    out: TextIO,
) -> int:
    """Update the named projects (or all), report one outcome each; 1 on conflicts or failures."""
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
    refuse_dirty_tree(root)
    newest = versions.newest_tag(gitrepo.tags(root))
    newest_version = newest[1] if newest is not None else None
    outcomes = [update_one(root, project, newest_version, vcs_ref) for project in selected]
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
