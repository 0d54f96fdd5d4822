"""`slipway drift [--json]`: each stamped project's template release against the newest one.

A project is `current` (on the newest release), `behind` (an older release), `changed` (its
release's templates changed after it was stamped, without a new release: add one) or `unknown`
(its `_commit` is not in this history). Anything but `current` exits 1: drift never passes for
lack of data. One exception: on a branch that introduces a release (its commit is not on main
yet), projects on the newest release of main are `pending`, not failing: they are rolled out
from main once the release is merged, so that they record a commit that ships.
Template-owned files that differ from their rendering at the project's own release are listed
as warnings: a next update may conflict in them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TextIO

from slipway_cli import local_edits, projects, releases, target
from slipway_cli.errors import EXIT_ATTENTION, EXIT_OK


@dataclass(frozen=True)
class Row:
    """One stamped project: its release and commit, the newest release, its state."""

    project: str
    template: str
    version: str | None
    commit: str
    newest: str
    state: str
    edited: tuple[str, ...] = ()


def shipped(root: Path, known: Sequence[releases.Release]) -> releases.Release:
    """The newest release whose commit is on main (the oldest one when none is)."""
    return next((r for r in known if releases.on_main(root, r.commit)), known[-1])


def _state(
    root: Path,
    project: projects.Project,
    known: Sequence[releases.Release],
    on_main: releases.Release,
) -> tuple[str | None, str]:
    if not releases.commit_exists(root, project.commit):
        return None, "unknown"
    version = releases.version_of(root, project.commit, known)
    if version is None:
        return None, "unknown"
    release = releases.find(known, version)
    if release is None:
        return str(version), "unknown"
    if version < on_main.version:
        return str(version), "behind"
    if version < known[0].version:
        return str(version), "pending"
    if not releases.same_templates(root, project.commit, release.commit):
        return str(version), "changed"
    return str(version), "current"


def rows(root: Path, known: Sequence[releases.Release], *, check_edits: bool = True) -> list[Row]:
    """A row per stamped project against the releases `known`, with its locally edited
    template-owned files."""
    on_main = shipped(root, known)
    result: list[Row] = []
    for project in projects.discover(root):
        version, state = _state(root, project, known, on_main)
        edited: tuple[str, ...] = ()
        if check_edits and state != "unknown":
            edited = local_edits.edited_files(root, project)
        row = Row(
            project.path, project.template, version, project.commit, str(known[0].version),
            state, edited,
        )  # fmt: skip
        result.append(row)
    return result


def _table(table_rows: Sequence[Row]) -> str:
    header = ("project", "template", "release", "commit", "newest", "state")
    cells = [header] + [
        (r.project, r.template, r.version or "?", r.commit[:12] or "?", r.newest, r.state)
        for r in table_rows
    ]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in cells
    )


_ADVICE = {
    "behind": "`slipway update {names}`",
    "changed": (
        "their release's templates changed after they were stamped; templates/ changes need a "
        "new release entry in templates/releases.yml (templates/README.md, 'Releases')"
    ),
    "pending": (
        "the newest release is not on main yet: once it is merged, run `slipway update --all` "
        "from main"
    ),
    "unknown": (
        "their `_commit` is not in this history: a commit that never reached main (a squashed "
        "branch, a throwaway commit); `slipway update` them from a release"
    ),
}


def run(root: Path, *, as_json: bool = False, out: TextIO, check_edits: bool = True) -> int:
    """Print every stamped project's release; 1 when any is not on the newest one."""
    known = target.all_releases(root)
    table_rows = rows(root, known, check_edits=check_edits)
    failing = [r for r in table_rows if r.state not in ("current", "pending")]
    if as_json:
        document = {"newest": str(known[0].version), "projects": [asdict(r) for r in table_rows]}
        print(json.dumps(document, indent=2), file=out)
        return EXIT_ATTENTION if failing else EXIT_OK
    if not table_rows:
        print("No stamped projects (services/*, libs/* with .copier-answers.yml).", file=out)
        return EXIT_OK
    print(_table(table_rows), file=out)
    for state, advice in _ADVICE.items():
        named = [r.project for r in table_rows if r.state == state]
        if named:
            print(f"\n{len(named)} {state}: " + advice.format(names=" ".join(named)), file=out)
    edited = [r for r in table_rows if r.edited]
    if edited:
        print("\nwarning: template-owned files edited locally (a next update may conflict in "
              "them; move the change into a lib or the template):", file=out)  # fmt: skip
        for row in edited:
            print(f"  {row.project}: {', '.join(row.edited)}", file=out)
    if not failing and not any(r.state == "pending" for r in table_rows):
        print(f"\nEvery project is on the newest release, {table_rows[0].newest}.", file=out)
    return EXIT_ATTENTION if failing else EXIT_OK
