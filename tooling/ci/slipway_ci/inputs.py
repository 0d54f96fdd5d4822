"""Which changed files affect which targets: the rules affected-only CI selects by, in one place.

Standard library only, like the rest of slipway_ci.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

# Files whose change can affect any target: when one changes, CI runs on `::`. An entry is a
# path relative to the repository root, matched exactly, or `DIR/**` for everything under DIR.
GLOBAL_INPUTS: tuple[str, ...] = (
    "pants.toml",  # Pants configuration: backends, tool versions, options
    "pants",  # the launcher that bootstraps Pants
    "BUILD",  # root BUILD: third-party requirements, shared file targets
    "pyproject.toml",  # ruff, mypy and pytest configuration
    # Other tool configs at the root govern every directory (see PROJECT_INPUTS).
    "ruff.toml",
    ".ruff.toml",
    "setup.cfg",
    "pytest.ini",
    "tox.ini",
    ".gitignore",  # Pants ignores what git ignores: it decides which files Pants sees
    "3rdparty/**",  # requirements and lockfiles
    "tooling/pants-plugins/**",  # in-repo Pants plugins
    ".ci/**",  # the full CI entry point
    ".github/workflows/**",  # CI workflow definitions
    ".pre-commit-config.yaml",  # pre-commit hooks
    "copier.yml",  # the project template configuration
    "services/BUILD",  # layering (visibility) rules every service inherits
    "libs/BUILD",  # layering (visibility) rules every lib inherits
)


@dataclass(frozen=True)
class ProjectInput:
    """A file name that no Pants target owns, read by a tool checking the files next to it."""

    name: str
    templates: bool = False  # its change also runs TEMPLATE_STEPS


# Files that decide the outcome of the targets in their directory and below, though no target
# owns them (so `--changed-since` cannot see them): a change to one, in a directory under
# PROJECT_ROOTS, runs CI on `DIR::` as well. The same names at the root are GLOBAL_INPUTS.
PROJECT_INPUTS: tuple[ProjectInput, ...] = (
    ProjectInput("ruff.toml"),  # ruff uses the closest config above each file
    ProjectInput(".ruff.toml"),
    ProjectInput("pyproject.toml"),  # [tool.ruff] for ruff, [tool.pytest.ini_options] for pytest
    ProjectInput("setup.cfg"),  # [tool:pytest]: Pants' pytest reads it in every ancestor directory
    ProjectInput("pytest.ini"),
    ProjectInput("tox.ini"),  # [pytest]
    # The project's template and version: what `slipway drift` and `copier update` do with it.
    ProjectInput(".copier-answers.yml", templates=True),
)
# Where projects live: Pants' source roots are under these (pants.toml's [source]).
PROJECT_ROOTS: tuple[str, ...] = ("services/", "libs/", "tooling/")

# Files that shape what `copier copy` / `copier update` produce, or what a stamped project builds
# on: when one changes, CI also runs the template scenarios (tooling/template_tests) and drift.
TEMPLATE_INPUTS: tuple[str, ...] = (
    "copier.yml",
    "templates/**",
    "libs/**",
    "tooling/cli/**",
    "tooling/template_tests/**",
)


def is_global_input(path: str, patterns: Sequence[str] = GLOBAL_INPUTS) -> bool:
    """Whether the repository-relative `path` matches one of `patterns` (global inputs)."""
    for pattern in patterns:
        if pattern.endswith("/**"):
            if path.startswith(pattern[: -len("**")]):
                return True
        elif path == pattern:
            return True
    return False


def directory_of(path: str) -> str:
    """The directory of the repository-relative `path` ("" at the root)."""
    return path.rpartition("/")[0]


def project_input(path: str) -> ProjectInput | None:
    """The PROJECT_INPUTS rule for `path`: its name in a directory under PROJECT_ROOTS."""
    if not f"{directory_of(path)}/".startswith(PROJECT_ROOTS):
        return None
    name = path.rpartition("/")[2]
    return next((rule for rule in PROJECT_INPUTS if rule.name == name), None)


def changes_templates(path: str) -> bool:
    """Whether a change to `path` can change what the template steps report."""
    rule = project_input(path)
    return is_global_input(path, TEMPLATE_INPUTS) or (rule is not None and rule.templates)
