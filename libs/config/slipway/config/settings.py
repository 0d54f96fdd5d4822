"""The settings base class every Slipway service extends."""

from enum import StrEnum
from typing import Any, Literal, Self

from pydantic import model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from slipway.config.naming import env_var_name
from slipway.config.production import (
    GENERATE_HINT,
    UnsafeForProductionError,
    secret_fields,
    weak_secret_reason,
)
from slipway.config.sources import with_default_locations


class Environment(StrEnum):
    """Where a service runs; production is strict about unsafe settings."""

    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


LogRenderer = Literal["json", "console"]


class ServiceSettings(BaseSettings):
    """Base settings: subclasses set `env_prefix` (e.g. `BILLING_`) and add their own fields.

    Sources, highest priority first: keyword arguments, the environment, the `.env` file
    (`$SLIPWAY_ENV_FILE`, default `./.env` when present), then one file per variable in the
    secrets directory (`$SLIPWAY_SECRETS_DIR`, default `/run/secrets` when present).
    """

    model_config = SettingsConfigDict(
        env_prefix="SLIPWAY_",
        env_nested_delimiter="__",
        extra="ignore",
        frozen=True,
        validate_default=True,
    )

    service_name: str = "slipway-service"
    version: str = "0.0.0"
    environment: Environment = Environment.DEVELOPMENT
    debug: bool = False
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    # Default: "console" in development, "json" elsewhere (set by _default_log_renderer).
    log_renderer: LogRenderer = "json"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Add the default `.env` file and secrets directory unless one was chosen."""
        dotenv_settings, file_secret_settings = with_default_locations(
            settings_cls, dotenv_settings, file_secret_settings
        )
        return init_settings, env_settings, dotenv_settings, file_secret_settings

    @model_validator(mode="before")
    @classmethod
    def _default_log_renderer(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("log_renderer") is None:
            environment = str(data.get("environment") or Environment.DEVELOPMENT).lower()
            renderer = "console" if environment == Environment.DEVELOPMENT else "json"
            data = {**data, "log_renderer": renderer}
        return data

    @model_validator(mode="before")
    @classmethod
    def _upper_case_log_level(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("log_level"), str):
            data = {**data, "log_level": data["log_level"].upper()}
        return data

    @model_validator(mode="after")
    def _refuse_unsafe_production_settings(self) -> Self:
        if self.environment is not Environment.PRODUCTION:
            return self
        settings_cls = type(self)
        problems = []
        if self.debug:
            variable = env_var_name(settings_cls, "debug")
            problems.append(
                f"{variable}: debug must be false when environment is production"
                f" (for example {variable}=false)"
            )
        for path, secret in secret_fields(self):
            reason = weak_secret_reason(secret)
            if reason is not None:
                variable = env_var_name(settings_cls, *path)
                problems.append(f"{variable}: {reason} (generate one with: {GENERATE_HINT})")
        if problems:
            raise UnsafeForProductionError(problems)
        return self
