"""Typed service settings from the environment, with readable start-up errors."""

from slipway.config.effective import render as render_settings
from slipway.config.loading import ConfigError, env_var_name, load_settings
from slipway.config.settings import Environment, LogRenderer, ServiceSettings

__all__ = [
    "ConfigError",
    "Environment",
    "LogRenderer",
    "ServiceSettings",
    "env_var_name",
    "load_settings",
    "render_settings",
]
