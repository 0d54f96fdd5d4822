"""Print a service's effective settings, secrets redacted: `python -m slipway.config`."""

import argparse
import importlib
import json
import sys
from collections.abc import Sequence

from pydantic_settings import BaseSettings

from slipway.config.loading import ConfigError, load_settings
from slipway.config.settings import ServiceSettings


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


def render(settings: BaseSettings) -> str:
    """Settings as sorted JSON; SecretStr values come out as '**********'."""
    return json.dumps(settings.model_dump(mode="json"), indent=2, sort_keys=True)


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
    args = parser.parse_args(argv)
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
