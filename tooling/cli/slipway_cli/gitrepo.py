"""Thin wrappers over the `git` binary: the repository root and its status."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from slipway_cli import releases
from slipway_cli.errors import SlipwayError


def run_git(cwd: Path, *args: str, stdin: str | None = None) -> str:
    """Run `git ARGS` in `cwd` (fed `stdin`) and return its stdout; a failure raises
    `SlipwayError`."""
    try:
        out = releases.git(cwd, *args, stdin=stdin)
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


@contextmanager
def unmerged_set_aside(root: Path) -> Iterator[None]:
    """Run the block with no unmerged entries in the index, and put them back after.

    Copier marks each file it leaves with conflict markers as unmerged (stages 1-3), and its
    next update, of any project, runs `git write-tree`, which refuses such an index: without
    this, one conflict made every later project of `update --all` fail, as did a conflict the
    user had not resolved yet. The paths' index entries are reset to HEAD for the block and
    their stages restored after (`update-index --index-info`); the work tree is not touched.
    """
    listing = run_git(root, "ls-files", "--unmerged", "-z")
    entries = [entry for entry in listing.split("\0") if entry]
    if not entries:
        yield
        return
    paths = sorted({entry.split("\t", 1)[1] for entry in entries})
    run_git(root, "reset", "--quiet", "--", *(f":(literal){path}" for path in paths))
    try:
        yield
    finally:
        # "<mode> <object> <stage>\t<path>"; mode 0 first drops the path's stage-0 entry.
        zero = "0" * len(entries[0].split(" ", 2)[1])
        removals = "".join(f"0 {zero}\t{path}\0" for path in paths)
        stages = "".join(f"{entry}\0" for entry in entries)
        run_git(root, "update-index", "-z", "--index-info", stdin=removals + stages)
