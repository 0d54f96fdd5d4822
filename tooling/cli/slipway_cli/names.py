"""Project names: kebab-case, not reserved by the root `copier.yml`, not already taken."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from slipway_cli.errors import SlipwayError

NAME_PATTERN = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
# Where each template kind stamps its projects, relative to the repository root.
KIND_DIRS: dict[str, str] = {"service": "services", "lib": "libs"}


class _TolerantLoader(yaml.SafeLoader):
    """A safe YAML loader that reads Copier's custom tags (`!include`) as plain values."""


def _construct_unknown(loader: yaml.SafeLoader, _suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node)
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node)
    return None


_TolerantLoader.add_multi_constructor("!", _construct_unknown)


# The category a plain list of reserved names falls in.
RESERVED = "reserved"


def reserved_names(copier_yml: Path) -> dict[str, frozenset[str]]:
    """The names reserved by the hidden `reserved_names` question of `copier_yml`, by category.

    The question is `reserved_names: {type: yaml, when: false, default: ...}`. Its default is a
    list (one category, `reserved`) or a mapping of category to list (`platform`, `stdlib`, ...);
    it may also be a YAML string. A missing file or question reserves nothing.
    """
    try:
        text = copier_yml.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    try:
        documents = [doc for doc in yaml.load_all(text, Loader=_TolerantLoader) if doc]
    except yaml.YAMLError as error:
        raise SlipwayError(f"{copier_yml} is not valid YAML:\n{error}") from error
    for document in documents:
        if isinstance(document, dict) and "reserved_names" in document:
            question = document["reserved_names"]
            default = question.get("default") if isinstance(question, dict) else question
            return _categories(copier_yml, default)
    return {}


def _categories(copier_yml: Path, default: Any) -> dict[str, frozenset[str]]:
    if isinstance(default, str):
        default = yaml.safe_load(default)
    if isinstance(default, list):
        default = {RESERVED: default}
    if not isinstance(default, dict) or not all(isinstance(v, list) for v in default.values()):
        raise SlipwayError(
            f"{copier_yml}: the default of reserved_names must be a YAML list of names, "
            "or a mapping of categories to lists."
        )
    return {str(key): frozenset(str(name) for name in names) for key, names in default.items()}


def reserving_category(kind: str, name: str, reserved: Mapping[str, frozenset[str]]) -> str | None:
    """The category reserving `name` (or its package, `name` in snake_case) for `kind`.

    A category named after a project folder (`libs`, `services`) reserves its names for that
    kind of project only; every other category applies to both kinds.
    """
    candidates = {name, name.replace("-", "_")}
    for category, names in reserved.items():
        if category in KIND_DIRS.values() and category != KIND_DIRS[kind]:
            continue
        if candidates & names:
            return category
    return None


def project_dir(root: Path, kind: str, name: str) -> Path:
    """Where a project of template `kind` named `name` lives."""
    return root / KIND_DIRS[kind] / name


def validate_new_name(
    root: Path, kind: str, name: str, reserved: Mapping[str, frozenset[str]]
) -> None:
    """Refuse a name that is not kebab-case, is reserved, or is taken by a service or lib."""
    if not NAME_PATTERN.fullmatch(name):
        raise SlipwayError(
            f"invalid name {name!r}: use kebab-case, lowercase letters and digits in words "
            "joined by single hyphens, starting with a letter (for example `billing` or "
            "`order-history`)."
        )
    category = reserving_category(kind, name, reserved)
    if category is not None:
        raise SlipwayError(
            f"the name {name!r} is reserved for a {kind} (root copier.yml, reserved_names, "
            f"{category}): choose another, for example {name}-{kind}."
        )
    for directory in KIND_DIRS.values():
        existing = root / directory / name
        if existing.exists():
            raise SlipwayError(
                f"{existing.relative_to(root)} already exists: choose another name, "
                "or use `slipway update` to bring an existing project up to date."
            )
