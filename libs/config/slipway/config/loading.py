"""Load settings, turning validation failures into one readable message."""

from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import ValidationError
from pydantic_settings import BaseSettings, SettingsError

from slipway.config.naming import env_var_name, field_info
from slipway.config.production import UnsafeForProductionError
from slipway.config.sources import location_problems

__all__ = ["ConfigError", "env_var_name", "load_settings"]

S = TypeVar("S", bound=BaseSettings)


class ConfigError(Exception):
    """Configuration is missing or invalid; `str()` is a message fit for a terminal."""

    def __init__(self, settings_cls: type[BaseSettings], problems: list[str]) -> None:
        self.problems = problems
        header = f"Invalid configuration for {settings_cls.__name__}:"
        super().__init__("\n".join([header, *(f"  - {p}" for p in problems)]))


def _describe(settings_cls: type[BaseSettings], error: Mapping[str, Any]) -> list[str]:
    cause = (error.get("ctx") or {}).get("error")
    if isinstance(cause, UnsafeForProductionError):
        return list(cause.problems)
    message = str(error["msg"]).removeprefix("Value error, ")
    # Field names, not list indexes or union branch tags, make up the variable name.
    path = tuple(part for part in error["loc"] if isinstance(part, str))
    if not path or path[0] not in settings_cls.model_fields:
        return [message]
    variable = env_var_name(settings_cls, *path)
    info = field_info(settings_cls, path)
    example = ""
    if info is not None and info.examples:
        example = f" (for example {variable}={info.examples[0]})"
    return [f"{variable}: {message}{example}"]


def load_settings(settings_cls: type[S], **overrides: Any) -> S:
    """Instantiate `settings_cls`, raising ConfigError that lists every problem at once."""
    problems = location_problems()
    try:
        settings = settings_cls(**overrides)
    except ValidationError as exc:
        problems += [line for error in exc.errors() for line in _describe(settings_cls, error)]
    except SettingsError as exc:
        # A source could not parse its input, e.g. malformed JSON for a nested field.
        problems.append(str(exc))
    else:
        if not problems:
            return settings
    raise ConfigError(settings_cls, problems)
