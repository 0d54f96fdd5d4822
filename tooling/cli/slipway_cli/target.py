"""The release a `new` or `update` renders: committed, on main, and the newest unless named."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from slipway_cli import releases
from slipway_cli.errors import SlipwayError

_SHOWN = 3


def refuse_dirty_templates(root: Path) -> None:
    """Refuse uncommitted template inputs: they are in no release, and in no commit."""
    dirty = releases.dirty_template_inputs(root)
    if dirty:
        shown = ", ".join(dirty[:_SHOWN]) + (
            f" and {len(dirty) - _SHOWN} more" if len(dirty) > _SHOWN else ""
        )
        raise SlipwayError(
            f"template inputs have uncommitted changes ({shown}): projects are stamped and "
            f"updated only from a release; commit them with a new entry in "
            f"{releases.RELEASES_FILE} first (templates/README.md, 'Releases')."
        )


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
