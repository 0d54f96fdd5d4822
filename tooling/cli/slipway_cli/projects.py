"""Stamped projects: directories under `services/` and `libs/` holding a Copier answers file."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from slipway_cli.errors import SlipwayError
from slipway_cli.names import KIND_DIRS

ANSWERS_FILE = ".copier-answers.yml"


def read_answers(project: Path) -> dict[str, Any]:
    """The answers Copier recorded in `project`'s answers file."""
    path = project / ANSWERS_FILE
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise SlipwayError(f"cannot read {path}: {error}") from error
    if not isinstance(data, dict):
        raise SlipwayError(f"{path} does not hold a YAML mapping of answers.")
    return data


@dataclass(frozen=True)
class Project:
    """A stamped project: `path` is relative to the repository root (`services/billing`)."""

    path: str
    template: str
    commit: str

    @property
    def name(self) -> str:
        """The project's directory name (`billing`)."""
        return Path(self.path).name

    @classmethod
    def load(cls, root: Path, path: str) -> Project:
        """Read the project at `root / path` from its answers file."""
        answers = read_answers(root / path)
        return cls(
            path=path,
            template=str(answers.get("template", "?")),
            commit=str(answers.get("_commit", "")),
        )


def discover(root: Path) -> list[Project]:
    """Every stamped project of the repository at `root`, sorted by path."""
    found: list[Project] = []
    for directory in sorted(set(KIND_DIRS.values())):
        parent = root / directory
        if not parent.is_dir():
            continue
        for child in sorted(parent.iterdir()):
            if (child / ANSWERS_FILE).is_file():
                found.append(Project.load(root, f"{directory}/{child.name}"))
    return found


def select(projects: Sequence[Project], names: Sequence[str]) -> list[Project]:
    """The projects named by `names` (`billing` or `services/billing`), in the given order.

    An unknown or ambiguous name raises `SlipwayError` listing the known projects.
    """
    selected: list[Project] = []
    for name in names:
        wanted = name.strip("/")
        matches = [p for p in projects if wanted in (p.path, p.name)]
        known = ", ".join(p.path for p in projects) or "none (no stamped projects yet)"
        if not matches:
            raise SlipwayError(f"unknown project {name!r}. Known projects: {known}.")
        if len(matches) > 1:
            raise SlipwayError(
                f"{name!r} is ambiguous: it names {' and '.join(p.path for p in matches)}; "
                "give the path instead."
            )
        if matches[0] not in selected:
            selected.append(matches[0])
    return selected
