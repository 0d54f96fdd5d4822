"""Run by Copier itself (root `copier.yml`), so plain `copier copy/update` keep main's history.

Copier versions a template by its git tags, which never reach a clone of main. Its hooks call
this script with Copier's own interpreter; it needs only the standard library, PyYAML and
packaging (Copier's dependencies) and `slipway_cli.releases` next to it:

- `preflight` (before an update): refuse uncommitted template inputs, which Copier would render
  as a throwaway commit that exists nowhere, and a release that is not on main yet.
- `record` (after every render): set the answers file's `_commit` to the commit of the release
  it names (`_template_version`), a commit of main's history, whatever Copier rendered from (a
  later commit with the same templates, or Copier's throwaway commit for a dirty tree); refuse a
  release that is only on a branch (a copy that fails here is removed by Copier).
- `migrate FROM_COMMIT RELEASE -- COMMAND...`: run a breaking release's migration command when
  the update goes from a version before RELEASE to RELEASE or later.

Each refusal is one line on stderr and a non-zero exit, which Copier reports without a traceback
(a failed `copy` also removes what it created).
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

if __package__ in (None, ""):  # run as a script by Copier: make `slipway_cli` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from slipway_cli import releases

ANSWERS_FILE = ".copier-answers.yml"
_COMMIT_LINE = re.compile(r"^_commit: .*$", re.MULTILINE)
_VERSION_LINE = re.compile(r"^_template_version: *['\"]?(?P<version>[^'\"\s]+)", re.MULTILINE)
_SHOWN = 3


class GuardError(Exception):
    """A refusal: the message is printed as one line."""


def template_checkout() -> Path:
    """The template checkout this script belongs to: Copier's clone at the release it renders."""
    return Path(__file__).resolve().parents[3]


def repository_of(directory: Path) -> Path | None:
    """The top of the git work tree holding `directory`; None outside one (Copier's scratch
    renders of an update) or in a repository that keeps no template releases."""
    out = releases.git(directory, "rev-parse", "--show-toplevel", check=False)
    if out is None:
        return None
    root = Path(out.strip())
    return root if (root / releases.RELEASES_FILE).is_file() else None


def refuse_dirty_templates(root: Path) -> None:
    """Raise when a template input has uncommitted changes."""
    dirty = releases.dirty_template_inputs(root)
    if dirty:
        more = len(dirty) - _SHOWN
        shown = ", ".join(dirty[:_SHOWN]) + (f" and {more} more" if more > 0 else "")
        raise GuardError(
            f"template inputs have uncommitted changes ({shown}): commit them with a new "
            f"release in {releases.RELEASES_FILE} first (templates/README.md, 'Releases'); "
            "Copier would record a throwaway commit that exists nowhere"
        )


def preflight(project: Path) -> None:
    """Before an update touches anything: refuse uncommitted template inputs, and a release
    (the one this template checkout is at) that is not on main yet."""
    root = repository_of(project)
    if root is None:
        return
    refuse_dirty_templates(root)
    text = (template_checkout() / releases.RELEASES_FILE).read_text(encoding="utf-8")
    release = releases.find(releases.releases(root), releases.parse_entries(text)[0].version)
    if release is not None and not releases.on_main(root, release.commit):
        raise GuardError(releases.not_on_main_message(release))


def record(project: Path) -> None:
    """Point the project's `_commit` at the commit of the release its answers name."""
    root = repository_of(project)
    answers = project / ANSWERS_FILE
    if root is None or not answers.is_file():
        return
    text = answers.read_text(encoding="utf-8")
    match = _VERSION_LINE.search(text)
    if match is None:
        raise GuardError(f"{answers} names no _template_version: the template did not set it")
    refuse_dirty_templates(root)
    version = releases.parse_version(match["version"], str(answers))
    release = releases.find(releases.releases(root), version)
    if release is None:
        raise GuardError(
            f"release {version} is not in {releases.RELEASES_FILE} at HEAD: stamp or update "
            "from a released template (templates/README.md, 'Releases')"
        )
    if not releases.on_main(root, release.commit):
        raise GuardError(releases.not_on_main_message(release))
    answers.write_text(
        _COMMIT_LINE.sub(f"_commit: {release.commit}", text, count=1), encoding="utf-8"
    )


def migrate(project: Path, from_commit: str, release: str, command: Sequence[str]) -> int:
    """Run `command` in `project` when the update crosses `release`; its exit code, else 0."""
    root = repository_of(project)
    if root is None:
        return 0
    target = releases.parse_version(release, "migration")
    to_text = (template_checkout() / releases.RELEASES_FILE).read_text(encoding="utf-8")
    to_version = releases.parse_entries(to_text)[0].version
    from_version = releases.version_of(root, from_commit, releases.releases(root))
    if from_version is None:
        raise GuardError(releases.missing_commit_message(root, str(project), from_commit))
    if not from_version < target <= to_version:
        return 0
    print(f"migration of release {target}: {' '.join(command)}", file=sys.stderr)
    return subprocess.run(list(command), cwd=project, check=False).returncode  # noqa: S603


def main(argv: Sequence[str]) -> int:
    """`copier_guard.py preflight|record|migrate ...`, run in the project's directory."""
    project = Path.cwd()
    try:
        if argv[:1] == ["preflight"]:
            preflight(project)
            return 0
        if argv[:1] == ["record"]:
            record(project)
            return 0
        if argv[:1] == ["migrate"] and len(argv) > 4 and argv[3] == "--":
            return migrate(project, argv[1], argv[2], argv[4:])
    except (GuardError, releases.ReleaseError) as error:
        print(f"slipway: {error}", file=sys.stderr)
        return 1
    print(
        "usage: copier_guard.py preflight | record | migrate FROM_COMMIT RELEASE -- COMMAND...",
        file=sys.stderr,
    )
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
