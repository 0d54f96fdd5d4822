"""Print a service's effective settings, secrets redacted: `python -m slipway.config`."""

import argparse
import importlib
import json
import re
import sys
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from pydantic import SecretBytes, SecretStr
from pydantic_settings import BaseSettings

from slipway.config.loading import ConfigError, load_settings

REDACTED = "**********"
# Plain-string fields whose name says they hold a secret are redacted like SecretStr fields.
SECRET_NAME = re.compile(r"password|passwd|secret|token|api_?key|private_?key|credential", re.I)


class UsageError(Exception):
    """The command line names something that cannot be loaded."""


def resolve_settings_class(spec: str) -> type[BaseSettings]:
    """Import `module:Class` and check that it is a settings class."""
    module_name, _, class_name = spec.partition(":")
    if not module_name or not class_name:
        raise UsageError(f"--settings must look like 'package.module:ClassName', got {spec!r}")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise UsageError(f"cannot import {module_name!r}: {exc}") from None
    candidate = getattr(module, class_name, None)
    if not (isinstance(candidate, type) and issubclass(candidate, BaseSettings)):
        raise UsageError(f"{spec!r} is not a pydantic-settings class")
    return candidate


def _redact_url_password(value: str) -> str:
    if "@" not in value or "://" not in value:
        return value
    try:
        parts = urlsplit(value)
        password = parts.password
    except ValueError:
        return value
    if not password:
        return value
    netloc = parts.netloc.replace(f":{password}@", f":{REDACTED}@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def redacted(value: Any, key: str = "") -> Any:
    """`value` (a python-mode model_dump) with secrets and URL passwords masked."""
    if isinstance(value, SecretStr | SecretBytes):
        return REDACTED if value.get_secret_value() else ""
    if isinstance(value, dict):
        return {k: redacted(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [redacted(item, key) for item in value]
    if value is None or isinstance(value, bool | int | float):
        return value
    # Anything else (enums, paths, URL objects) is printed as its string form.
    text = str(value)
    if text and SECRET_NAME.search(key):
        return REDACTED
    return _redact_url_password(text)


def render(settings: BaseSettings) -> str:
    """Settings as sorted JSON, secrets redacted, nested models included."""
    # python mode keeps SecretStr objects, so they are recognised at any depth.
    dumped = redacted(settings.model_dump(mode="python"))
    return json.dumps(dumped, indent=2, sort_keys=True, default=str)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    parser = argparse.ArgumentParser(
        prog="python -m slipway.config",
        description="Print the effective settings of a service, with secrets redacted.",
    )
    parser.add_argument(
        "--settings",
        default="slipway.config:ServiceSettings",
        help="settings class as package.module:ClassName (default: %(default)s)",
    )
    parser.add_argument(
        "--pythonpath",
        action="append",
        default=[],
        metavar="DIR",
        help="directory to import the settings class from, e.g. services/billing/src (repeatable)",
    )
    args = parser.parse_args(argv)
    sys.path[:0] = [path for path in args.pythonpath if path not in sys.path]
    try:
        settings_cls = resolve_settings_class(args.settings)
        settings = load_settings(settings_cls)
    except UsageError as exc:
        parser.error(str(exc))
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    print(render(settings))
    return 0
