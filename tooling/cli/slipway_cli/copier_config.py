"""Reading the root `copier.yml`: the defaults of its hidden (`when: false`) questions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from slipway_cli.errors import SlipwayError


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


def load(copier_yml: Path) -> dict[str, Any]:
    """Every top-level key of `copier_yml` (all its YAML documents merged); {} when missing."""
    try:
        text = copier_yml.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    try:
        documents = [doc for doc in yaml.load_all(text, Loader=_TolerantLoader) if doc]
    except yaml.YAMLError as error:
        raise SlipwayError(f"{copier_yml} is not valid YAML:\n{error}") from error
    merged: dict[str, Any] = {}
    for document in documents:
        if isinstance(document, dict):
            merged.update(document)
    return merged


def hidden_default(copier_yml: Path, question: str) -> Any:
    """The default of `question` in `copier_yml` (a YAML string is parsed); None when absent."""
    entry = load(copier_yml).get(question)
    default = entry.get("default") if isinstance(entry, dict) else entry
    if isinstance(default, str):
        default = yaml.safe_load(default)
    return default
