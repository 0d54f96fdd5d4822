"""The settings base class every Slipway service extends."""

from enum import StrEnum
from typing import Self

from pydantic import model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Environment(StrEnum):
    """Where a service runs; production is strict about unsafe settings."""

    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


class ServiceSettings(BaseSettings):
    """Base settings: subclasses set `env_prefix` (e.g. `BILLING_`) and add their own fields."""

    model_config = SettingsConfigDict(
        env_prefix="SLIPWAY_",
        extra="ignore",
        frozen=True,
        validate_default=True,
    )

    service_name: str = "slipway-service"
    environment: Environment = Environment.DEVELOPMENT
    debug: bool = False
    log_level: str = "INFO"

    @model_validator(mode="after")
    def _refuse_debug_in_production(self) -> Self:
        if self.environment is Environment.PRODUCTION and self.debug:
            raise ValueError("debug must be false when environment is production")
        return self
