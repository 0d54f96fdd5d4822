"""Load settings, turning validation failures into one readable message."""

from typing import Any, TypeVar

from pydantic import ValidationError
from pydantic_settings import BaseSettings


S = TypeVar("S", bound=BaseSettings)


class ConfigError(Exception):
    """Configuration is missing or invalid; `str()` is a message fit for a terminal."""

    def __init__(self, settings_cls: type[BaseSettings], problems: list[str]) -> None:
        self.problems = problems
        header = f"Invalid configuration for {settings_cls.__name__}:"
        super().__init__("\n".join([header, *(f"  - {p}" for p in problems)]))


def env_var_name(settings_cls: type[BaseSettings], field: str) -> str:
    """The environment variable that sets `field` on `settings_cls`."""
    prefix = str(settings_cls.model_config.get("env_prefix", ""))
    return f"{prefix}{field}".upper()


def _describe(settings_cls: type[BaseSettings], error: Any) -> str:
    location = [str(part) for part in error["loc"]]
    message = str(error["msg"])
    if not location:
        return message
    field = location[0]
    variable = env_var_name(settings_cls, field)
    info = settings_cls.model_fields.get(field)
    example = ""
    if info is not None and info.examples:
        example = f" (for example {variable}={info.examples[0]})"
    return f"{variable}: {message}{example}"


def load_settings(settings_cls: type[S], **overrides: Any) -> S:
    """Instantiate `settings_cls`, raising ConfigError that lists every problem at once."""
    try:
        return settings_cls(**overrides)
    except ValidationError as exc:
        problems = [_describe(settings_cls, error) for error in exc.errors()]
        raise ConfigError(settings_cls, problems) from None
