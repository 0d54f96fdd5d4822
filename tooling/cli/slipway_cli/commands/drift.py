"""`slipway drift [--json]`: which stamped projects lag the newest template release tag."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TextIO

from slipway_cli import gitrepo, projects, versions
from slipway_cli.errors import EXIT_ATTENTION, EXIT_OK


@dataclass(frozen=True)
class Row:
    """One stamped project: its template, the version it is on, the newest tag, whether behind."""

    project: str
    template: str
    version: str
    newest: str | None
    lags: bool


def rows(root: Path) -> tuple[str | None, list[Row]]:
    """The newest release tag (None without one) and a row per stamped project."""
    newest = versions.newest_tag(gitrepo.tags(root))
    found = projects.discover(root)
    if newest is None:
        return None, [Row(p.path, p.template, p.commit, None, False) for p in found]
    tag, version = newest
    return tag, [Row(p.path, p.template, p.commit, tag, p.version.lags(version)) for p in found]


def _state(row: Row) -> str:
    if row.newest is None:
        return ""
    return "behind" if row.lags else "current"


def _table(table_rows: list[Row]) -> str:
    header = ("project", "template", "version", "newest", "")
    cells = [header] + [
        (
            r.project,
            r.template,
            r.version or "?",
            r.newest or "-",
            _state(r),
        )
        for r in table_rows
    ]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in cells
    )


def run(root: Path, *, as_json: bool = False, out: TextIO) -> int:
    """Print every stamped project's template version; 1 when any lags the newest tag."""
    newest, table_rows = rows(root)
    lagging = [r for r in table_rows if r.lags]
    if as_json:
        document = {"newest": newest, "projects": [asdict(r) for r in table_rows]}
        print(json.dumps(document, indent=2), file=out)
    elif not table_rows:
        print(
            "No stamped projects (services/*, libs/* with .copier-answers.yml): no drift.", file=out
        )
    elif newest is None:
        print("The repository has no release tag (vX.Y.Z): nothing to drift from.", file=out)
        print(_table(table_rows), file=out)
    else:
        print(_table(table_rows), file=out)
        if lagging:
            print(
                f"\n{len(lagging)} of {len(table_rows)} behind {newest}: "
                f"`slipway update {' '.join(r.project for r in lagging)}`",
                file=out,
            )
        else:
            print(f"\nEvery project is on {newest} or later.", file=out)
    return EXIT_ATTENTION if lagging else EXIT_OK
