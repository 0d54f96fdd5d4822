"""Copier, driven through its Python API from the repository root with the template at `.`.

Running from the root with `src_path="."` records `_src_path: .` in the answers file, exactly as
the documented `copier copy --trust . services/<name>` does, so plain `copier update` keeps
working from the root too.

Copier runs the guard of the template checkout it renders (the release's own copy of
`copier_guard.py`). After a stamp or update the CLI records the release commit once more with
this checkout's guard, so what a project records never depends on which release's guard ran.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path

import copier
from copier.errors import CopierError

from slipway_cli import copier_guard, releases
from slipway_cli.errors import SlipwayError


@contextlib.contextmanager
def _copier_errors(action: str) -> Iterator[None]:
    """Turn Copier's errors (its own, invalid answers, failed git calls) into `SlipwayError`."""
    try:
        with warnings.catch_warnings():
            # Copier warns about what the template expects (no answers file on a first copy,
            # no tags in a clone of main); the commands report what matters themselves.
            warnings.simplefilter("ignore")
            yield
    except (CopierError, ValueError, OSError) as error:
        message = str(error).strip() or type(error).__name__
        raise SlipwayError(f"copier {action} failed: {message}") from error


def copy(
    root: Path,
    dst: str,
    data: Mapping[str, str],
    *,
    vcs_ref: str | None = None,
    defaults: bool = False,
) -> None:
    """Stamp the template at `root` into `root / dst` (relative) with the answers `data`."""
    with contextlib.chdir(root), _copier_errors("copy"):
        copier.run_copy(
            ".",
            dst,
            data=dict(data),
            unsafe=True,
            vcs_ref=vcs_ref,
            defaults=defaults,
        )
    record(root / dst)


def update(root: Path, dst: str, *, vcs_ref: str | None = None) -> None:
    """Update the project at `root / dst` (relative), conflicts left inline in the files."""
    with contextlib.chdir(root), _copier_errors("update"):
        copier.run_update(
            dst_path=dst,
            unsafe=True,
            defaults=True,
            overwrite=True,
            conflict="inline",
            vcs_ref=vcs_ref,
            quiet=True,
        )
    record(root / dst)


def record(project: Path) -> None:
    """Point `project`'s `_commit` at the commit of the release its answers name."""
    try:
        copier_guard.record(project)
    except (copier_guard.GuardError, releases.ReleaseError) as error:
        raise SlipwayError(str(error)) from error


def render(root: Path, dst: str, data: Mapping[str, object], *, vcs_ref: str) -> None:
    """Render the template of `root` at `vcs_ref` into the scratch directory `dst` (absolute),
    quietly and without tasks: what a project with answers `data` looked like when stamped."""
    with _copier_errors("copy"):
        copier.run_copy(
            str(root),
            dst,
            data=dict(data),
            unsafe=True,
            vcs_ref=vcs_ref,
            defaults=True,
            quiet=True,
            skip_tasks=True,
        )
