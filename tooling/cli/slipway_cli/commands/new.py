"""`slipway new service|lib NAME`: stamp a project with Copier, from --data and the defaults.

Copier decides what a valid answer is: the root copier.yml's validators (its `name` validator is
the one rule for names) run before anything is written, and `new` reports a refusal in Copier's
own words. Unanswered questions take their defaults; only a question without one needs an
answer, which `new` asks for in a terminal (Copier's own prompt) and otherwise names as the
--data to add.
"""

from __future__ import annotations

import contextlib
import sys
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

import copier
from copier.errors import CopierError

from slipway_cli import names, templating
from slipway_cli.errors import EXIT_OK, SlipwayError

# Answers the command sets itself from its arguments.
_OWN_ANSWERS = ("template", "name")


class _UnansweredError(Exception):
    """Copier stopped at a question that has no default and was given no --data."""

    def __init__(self, question: str) -> None:
        super().__init__(question)
        self.question = question


def parse_data(pairs: Sequence[str]) -> dict[str, str]:
    """Parse `--data KEY=VALUE` arguments; a malformed pair or an owned key is an error."""
    data: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise SlipwayError(f"--data {pair!r}: expected KEY=VALUE.")
        if key in _OWN_ANSWERS:
            raise SlipwayError(
                f"--data {key}=...: `{key}` comes from the command line "
                "(`slipway new KIND NAME`), not from --data."
            )
        data[key] = value
    return data


def run(
    root: Path,
    kind: str,
    name: str,
    data: Mapping[str, str],
    *,
    vcs_ref: str | None = None,
    defaults: bool = False,
    out: TextIO,
) -> int:
    """Stamp `kind` (`service` or `lib`) as `name`; nothing is written unless Copier accepts
    every answer.

    A question without a default and without --data is asked in a terminal, unless `defaults`
    is set; otherwise it is an error naming the --data to pass. The rules are the template's
    own, at `vcs_ref`.
    """
    if kind not in names.KIND_DIRS:
        raise SlipwayError(f"unknown template {kind!r}: choose {' or '.join(names.KIND_DIRS)}.")
    dst = f"{names.KIND_DIRS[kind]}/{name}"
    answers: dict[str, Any] = {"template": kind, "name": name, **data}
    try:
        _stamp(root, dst, answers, vcs_ref)
    except _UnansweredError as missing:
        if defaults or not _has_terminal():
            raise SlipwayError(
                f'the template question "{missing.question}" has no default: '
                f"pass --data {missing.question}=VALUE"
            ) from missing
        answers.update(_ask(root, dst, answers, missing.question, vcs_ref))
        _stamp(root, dst, answers, vcs_ref)
    print(f"\nCreated {dst} from the {kind} template. Next:", file=out)
    print(f"  ./pants lint check test {dst}::", file=out)
    if kind == "service":
        print(f"  ./pants run {dst}:serve", file=out)
    print(f"  git add {dst} && git commit", file=out)
    return EXIT_OK


def _has_terminal() -> bool:
    return sys.stdin.isatty()


def _stamp(root: Path, dst: str, answers: Mapping[str, Any], vcs_ref: str | None) -> None:
    """Copy with every unanswered question on its default; Copier's refusals as they are."""
    try:
        templating.copy(root, dst, answers, vcs_ref=vcs_ref, defaults=True)
    except SlipwayError as error:
        cause = error.__cause__
        question = names.unanswered(cause) if cause else None
        if question is not None:
            raise _UnansweredError(question) from cause
        refused = names.refusal(cause) if cause else None
        if refused is not None:
            raise SlipwayError(refused) from cause
        raise


def _ask(
    root: Path, dst: str, answers: Mapping[str, Any], first: str, vcs_ref: str | None
) -> dict[str, Any]:
    """Ask, with Copier's prompts and validators, `first` and any other question without a
    default; a dry run (Copier's `pretend`), so nothing is written. Their answers, by name."""
    asked = [first]
    while True:
        try:
            with contextlib.chdir(root), warnings.catch_warnings():
                warnings.simplefilter("ignore")  # Copier's notes on a fresh destination
                worker = copier.run_copy(
                    ".",
                    dst,
                    data=dict(answers),
                    vcs_ref=vcs_ref,
                    defaults=True,
                    ask=asked,
                    pretend=True,
                    quiet=True,
                    unsafe=True,
                    skip_tasks=True,
                )
        except KeyboardInterrupt:
            raise
        except ValueError as error:
            question = names.unanswered(error)
            if question is None or question in asked:
                raise SlipwayError(names.refusal(error) or str(error)) from error
            asked.append(question)
            continue
        except (CopierError, OSError) as error:
            raise SlipwayError(f"copier copy failed: {error}") from error
        return {question: worker.answers.user[question] for question in asked}
