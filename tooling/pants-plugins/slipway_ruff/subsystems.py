"""The `ruff-check` and `ruff-format` subsystems and the field sets they act on."""

from __future__ import annotations

import os.path
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pants.backend.python.subsystems.python_tool_base import LockfileRules, PythonToolBase
from pants.backend.python.target_types import ConsoleScript, PythonSourceField
from pants.core.util_rules.config_files import ConfigFilesRequest
from pants.engine.rules import collect_rules
from pants.engine.target import FieldSet, Target
from pants.option.option_types import ArgsListOption, BoolOption, FileOption, SkipOption
from pants.util.strutil import softwrap

from slipway_ruff.skip_fields import SkipRuffCheckField, SkipRuffFormatField

# The files ruff reads its settings from; a pyproject.toml only counts with a [tool.ruff] table.
RUFF_CONFIG_FILES = ("ruff.toml", ".ruff.toml")
PYPROJECT = "pyproject.toml"


@dataclass(frozen=True)
class RuffCheckFieldSet(FieldSet):
    required_fields = (PythonSourceField,)

    source: PythonSourceField

    @classmethod
    def opt_out(cls, tgt: Target) -> bool:
        return bool(tgt.get(SkipRuffCheckField).value)


@dataclass(frozen=True)
class RuffFormatFieldSet(FieldSet):
    required_fields = (PythonSourceField,)

    source: PythonSourceField

    @classmethod
    def opt_out(cls, tgt: Target) -> bool:
        return bool(tgt.get(SkipRuffFormatField).value)


def ancestor_dirs(dirs: Iterable[str]) -> list[str]:
    """Every directory in `dirs` and all of their ancestors, the build root ("") first."""
    found = {""}
    for directory in dirs:
        while directory and directory not in found:
            found.add(directory)
            directory = os.path.dirname(directory)
    return sorted(found)


class RuffToolBase(PythonToolBase):
    """Options shared by both ruff subsystems: how to install ruff and find its config."""

    default_version = "ruff>=0.15,<1"
    default_requirements = (default_version,)
    default_main = ConsoleScript("ruff")

    register_interpreter_constraints = True
    # Used only without `install_from_resolve`; Slipway installs ruff from python-default.
    default_lockfile_resource = ("slipway_ruff", "ruff.lock")
    lockfile_rules_type = LockfileRules.SIMPLE

    config = FileOption(
        default=None,
        advanced=True,
        help=lambda cls: softwrap(
            f"""
            Path to a `ruff.toml`, `.ruff.toml` or `pyproject.toml` file for ruff, passed as
            `--config`. Setting this disables `[{cls.options_scope}].config_discovery`.
            """
        ),
    )
    config_discovery = BoolOption(
        default=True,
        advanced=True,
        help=lambda cls: softwrap(
            f"""
            If true, put every config file ruff would consult into the sandbox: `ruff.toml` and
            `.ruff.toml`, and `pyproject.toml` files with a `[tool.ruff]` table, in the build
            root and in each directory above the files being processed. Use
            `[{cls.options_scope}].config` for a config in a non-standard location.
            """
        ),
    )

    def config_request(self, dirs: Iterable[str]) -> ConfigFilesRequest:
        # ruff uses the closest config file above each file, so every ancestor directory counts.
        candidate_dirs = ancestor_dirs(dirs)
        return ConfigFilesRequest(
            specified=self.config,
            specified_option_name=f"[{self.options_scope}].config",
            discovery=self.config_discovery,
            check_existence=[
                os.path.join(d, name) for d in candidate_dirs for name in RUFF_CONFIG_FILES
            ],
            check_content={os.path.join(d, PYPROJECT): b"[tool.ruff" for d in candidate_dirs},
        )

    @property
    def config_args(self) -> tuple[str, ...]:
        return ("--config", self.config) if self.config else ()


class RuffCheck(RuffToolBase):
    options_scope = "ruff-check"
    name = "ruff check"
    help = softwrap(
        """
        The ruff linter, run as `ruff check` (https://docs.astral.sh/ruff/linter/): reports
        violations in `lint` and applies safe fixes in `fix`. Rules come from the ruff config.
        """
    )

    skip = SkipOption("lint", "fix")
    args = ArgsListOption(example="--select=E,F --ignore=E501")


class RuffFormat(RuffToolBase):
    options_scope = "ruff-format"
    name = "ruff format"
    help = softwrap(
        """
        The ruff formatter, run as `ruff format` (https://docs.astral.sh/ruff/formatter/):
        rewrites files in `fmt`; `lint` reports files it would change.
        """
    )

    skip = SkipOption("fmt", "lint")
    args = ArgsListOption(example="--line-length=100")


def rules() -> Iterable[Any]:
    return [*collect_rules(), *RuffCheck.rules(), *RuffFormat.rules()]
