"""Per-target opt-out fields: `skip_ruff_check` and `skip_ruff_format`."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pants.backend.python.target_types import (
    PythonSourcesGeneratorTarget,
    PythonSourceTarget,
    PythonTestsGeneratorTarget,
    PythonTestTarget,
    PythonTestUtilsGeneratorTarget,
)
from pants.engine.target import BoolField

# Every Python target type whose files ruff looks at.
_PYTHON_TARGET_TYPES = (
    PythonSourcesGeneratorTarget,
    PythonSourceTarget,
    PythonTestsGeneratorTarget,
    PythonTestTarget,
    PythonTestUtilsGeneratorTarget,
)


class SkipRuffCheckField(BoolField):
    alias = "skip_ruff_check"
    default = False
    help = "If true, don't run `ruff check` on this target's code (`lint` and `fix`)."


class SkipRuffFormatField(BoolField):
    alias = "skip_ruff_format"
    default = False
    help = "If true, don't run `ruff format` on this target's code (`fmt`, and `lint` checks)."


def rules() -> Iterable[Any]:
    return [
        target_type.register_plugin_field(field)
        for target_type in _PYTHON_TARGET_TYPES
        for field in (SkipRuffCheckField, SkipRuffFormatField)
    ]
