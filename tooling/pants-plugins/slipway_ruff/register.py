"""Pants backend `slipway_ruff`: ruff check for `lint` and `fix`, ruff format for `fmt`.

Enable it by listing "slipway_ruff" in `[GLOBAL].backend_packages`; configure it in the
`[ruff-check]` and `[ruff-format]` sections.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from slipway_ruff import rules as ruff_rules
from slipway_ruff import skip_fields, subsystems


def rules() -> Iterable[Any]:
    return [*ruff_rules.rules(), *subsystems.rules(), *skip_fields.rules()]
