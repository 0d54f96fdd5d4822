"""The release a `new` or `update` renders: committed, on main, and the newest unless named."""

from __future__ import annotations

from pathlib import Path

from slipway_cli import releases
from slipway_cli.errors import SlipwayError

# The branch whose history ships; a release must be on it before projects record it.
MAIN_REFS = ("refs/heads/main", "refs/remotes/origin/main")
_SHOWN = 3


def on_main(root: Path, commit: str) -> bool:
    """Whether `commit` is in main's history; True when this clone has no main ref to ask."""
    refs = [ref for ref in MAIN_REFS if releases.commit_exists(root, ref)]
    return not refs or any(releases.is_ancestor(root, commit, ref) for ref in refs)


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


def choose(root: Path, version: str | None = None) -> releases.Release:
    """The release to render: `version`, or the newest; it must be on main."""
    refuse_dirty_templates(root)
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
    if not on_main(root, chosen.commit):
        raise SlipwayError(
            f"release {chosen} is not on main yet: merge it, then stamp or update from main, "
            "so projects record a commit that ships."
        )
    return chosen
