"""The release a `new` or `update` renders: committed, on main, and the newest unless named."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from slipway_cli import copier_guard, releases
from slipway_cli.errors import SlipwayError


def refuse_dirty_templates(root: Path) -> None:
    """Refuse uncommitted template inputs, as Copier's guard does: they are in no release."""
    try:
        copier_guard.refuse_dirty_templates(root)
    except copier_guard.GuardError as error:
        raise SlipwayError(f"{error}.") from error


def all_releases(root: Path) -> list[releases.Release]:
    """Every release of HEAD's history, errors as `SlipwayError`."""
    try:
        return releases.releases(root)
    except releases.ReleaseError as error:
        raise SlipwayError(str(error)) from error


def choose(
    root: Path, version: str | None = None, known: Sequence[releases.Release] | None = None
) -> releases.Release:
    """The release to render: `version`, or the newest, of `known` (default: every release of
    HEAD's history); it must be on main."""
    refuse_dirty_templates(root)
    if known is None:
        known = all_releases(root)
    if version is None:
        chosen = known[0]
    else:
        try:
            wanted = releases.parse_version(version, "--release")
        except releases.ReleaseError as error:
            raise SlipwayError(str(error)) from error
        found = releases.find(known, wanted)
        if found is None:
            listed = ", ".join(str(r.version) for r in known)
            raise SlipwayError(f"no release {wanted} in {releases.RELEASES_FILE}: {listed}.")
        chosen = found
    if not releases.on_main(root, chosen.commit):
        raise SlipwayError(releases.not_on_main_message(chosen))
    return chosen
