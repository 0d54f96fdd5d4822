"""`slipway new service|lib NAME`: validate the name, then stamp the project with Copier."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TextIO

from slipway_cli import names, templating
from slipway_cli.errors import EXIT_OK, SlipwayError

# Answers the command sets itself from its arguments.
_OWN_ANSWERS = ("template", "name")


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
    copier_yml: Path | None = None,
    out: TextIO,
) -> int:
    """Stamp `kind` (`service` or `lib`) as `name`; nothing is written unless the name is valid.

    `copier_yml` (default: the root `copier.yml`) supplies the reserved names.
    """
    if kind not in names.KIND_DIRS:
        raise SlipwayError(f"unknown template {kind!r}: choose {' or '.join(names.KIND_DIRS)}.")
    reserved = names.reserved_names(copier_yml or root / "copier.yml")
    names.validate_new_name(root, kind, name, reserved)
    dst = f"{names.KIND_DIRS[kind]}/{name}"
    templating.copy(
        root,
        dst,
        {"template": kind, "name": name, **data},
        vcs_ref=vcs_ref,
        defaults=defaults,
    )
    print(f"\nCreated {dst} from the {kind} template. Next:", file=out)
    print(f"  ./pants lint check test {dst}::", file=out)
    if kind == "service":
        print(f"  ./pants run {dst}:serve", file=out)
    print(f"  git add {dst} && git commit", file=out)
    return EXIT_OK
