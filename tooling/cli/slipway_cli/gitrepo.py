"""Thin wrappers over the `git` binary: the repository root and its status."""

from __future__ import annotations

from pathlib import Path

from slipway_cli import releases
from slipway_cli.errors import SlipwayError


def run_git(cwd: Path, *args: str) -> str:
    """Run `git ARGS` in `cwd` and return its stdout; a failure raises `SlipwayError`."""
    try:
        out = releases.git(cwd, *args)
    except releases.ReleaseError as error:
        raise SlipwayError(str(error)) from error
    assert out is not None  # noqa: S101 - check=True raises instead
    return out


def repo_root(cwd: Path) -> Path:
    """The top level of the git work tree holding `cwd`."""
    try:
        top = run_git(cwd, "rev-parse", "--show-toplevel").strip()
    except SlipwayError as error:
        if "git was not found" in error.message:
            raise
        raise SlipwayError(
            f"{cwd} is not inside a git repository: run slipway from a clone of the monorepo."
        ) from error
    return Path(top)


def status_paths(root: Path, *pathspecs: str) -> list[str]:
    """Paths that `git status` reports as changed, staged or untracked under `pathspecs`.

    Paths are relative to `root`; untracked directories are listed file by file.
    """
    output = run_git(root, "status", "--porcelain", "-z", "--untracked-files=all", "--", *pathspecs)
    paths: list[str] = []
    entries = iter(output.split("\0"))
    for entry in entries:
        if not entry:
            continue
        status, path = entry[:2], entry[3:]
        paths.append(path)
        if "R" in status or "C" in status:
            next(entries, None)  # a rename or copy is followed by its source path
    return paths
