"""Project names: where each kind of project lives, and what Copier said about an answer.

The rules a name follows are not here. The root copier.yml's `name` validator is the one rule
set, for `copier copy` and `slipway new` alike: `new` hands the name to Copier and reports its
verdict word for word. The validator's data, the names no project may take, is generated into
3rdparty/python/reserved-names.yml by `slipway_cli.reserved_names.generate`.
"""

from __future__ import annotations

import re

# Where each template kind stamps its projects, relative to the repository root.
KIND_DIRS: dict[str, str] = {"service": "services", "lib": "libs"}

# Copier 9's words for an answer its validator refused, and for a question it has no answer for
# (with `defaults`, a question without a default and no --data).
_REFUSED = re.compile(r"^Validation error for question '(?P<question>[^']+)': ")
_REQUIRED = re.compile(r'^Question "(?P<question>[^"]+)" is required$')


def refusal(error: BaseException) -> str | None:
    """The validator's message when `error` is Copier refusing an answer, exactly as Copier says
    it (`Validation error for question 'name': ...`); None for any other error."""
    message = str(error).strip()
    return message if isinstance(error, ValueError) and _REFUSED.match(message) else None


def unanswered(error: BaseException) -> str | None:
    """The question `error` says has neither an answer nor a default; None for other errors."""
    found = _REQUIRED.match(str(error).strip()) if isinstance(error, ValueError) else None
    return found["question"] if found else None
