"""Typed service settings from the environment, with readable start-up errors."""

from slipway.config.loading import ConfigError, load_settings
from slipway.config.settings import Environment, ServiceSettings

__all__ = ["ConfigError", "Environment", "ServiceSettings", "load_settings"]
