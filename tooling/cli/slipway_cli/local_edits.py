"""Template-owned files a project has edited: where its next `copier update` may conflict.

The project is rendered again at its own recorded commit, with its own answers, into a scratch
directory, and each template-owned file (copier.yml's hidden `template_owned` globs) is compared
with the project's copy.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable
from pathlib import Path

from slipway_cli import copier_config, projects, templating
from slipway_cli.errors import SlipwayError

_QUESTION = "template_owned"


def owned_patterns(copier_yml: Path, template: str) -> tuple[str, ...]:
    """The template-owned globs of `template`, from copier.yml's hidden `template_owned`."""
    default = copier_config.hidden_default(copier_yml, _QUESTION)
    if not isinstance(default, dict) or not isinstance(default.get(template, []), list):
        raise SlipwayError(f"{copier_yml}: `{_QUESTION}` must map each template to a glob list.")
    return tuple(str(pattern) for pattern in default.get(template, []))


def _matching(directory: Path, patterns: Iterable[str]) -> set[str]:
    found: set[str] = set()
    for pattern in patterns:
        found.update(
            path.relative_to(directory).as_posix()
            for path in directory.glob(pattern)
            if path.is_file()
        )
    return found


def edited_files(root: Path, project: projects.Project) -> tuple[str, ...]:
    """Template-owned files of `project` that differ from (or are missing against) a fresh
    rendering at its recorded commit, as paths relative to the project."""
    patterns = owned_patterns(root / "copier.yml", project.template)
    answers = projects.read_answers(root / project.path)
    data = {key: value for key, value in answers.items() if not str(key).startswith("_")}
    with tempfile.TemporaryDirectory(prefix="slipway-drift-") as scratch:
        rendered = Path(scratch) / project.path
        templating.render(root, str(rendered), data, vcs_ref=project.commit)
        edited = [
            relative
            for relative in sorted(_matching(rendered, patterns))
            if not (root / project.path / relative).is_file()
            or (root / project.path / relative).read_bytes() != (rendered / relative).read_bytes()
        ]
    return tuple(edited)
