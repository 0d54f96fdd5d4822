"""Where settings come from besides the process environment: a `.env` file and a secrets dir."""

import os
from pathlib import Path

from pydantic_settings import (
    BaseSettings,
    DotEnvSettingsSource,
    NestedSecretsSettingsSource,
    PydanticBaseSettingsSource,
    SecretsSettingsSource,
)

ENV_FILE_VARIABLE = "SLIPWAY_ENV_FILE"
SECRETS_DIR_VARIABLE = "SLIPWAY_SECRETS_DIR"
DEFAULT_ENV_FILE = ".env"
DEFAULT_SECRETS_DIR = "/run/secrets"


def env_file_path() -> Path | None:
    """The `.env` file to read: `$SLIPWAY_ENV_FILE` ("" disables), else `./.env` if present."""
    configured = os.environ.get(ENV_FILE_VARIABLE)
    if configured is not None:
        return Path(configured) if configured else None
    default = Path(DEFAULT_ENV_FILE)
    return default if default.is_file() else None


def secrets_dir_path() -> Path | None:
    """The secrets dir: `$SLIPWAY_SECRETS_DIR` ("" disables), else `/run/secrets` if present."""
    configured = os.environ.get(SECRETS_DIR_VARIABLE)
    if configured is not None:
        return Path(configured) if configured else None
    default = Path(DEFAULT_SECRETS_DIR)
    return default if default.is_dir() else None


def location_problems() -> list[str]:
    """Explicitly configured `.env` file or secrets directory that does not exist."""
    problems = []
    env_file = env_file_path()
    if os.environ.get(ENV_FILE_VARIABLE) and env_file is not None and not env_file.is_file():
        problems.append(
            f"{ENV_FILE_VARIABLE}: no such file {str(env_file)!r}"
            f" (for example {ENV_FILE_VARIABLE}=.env, or empty to read no file)"
        )
    secrets_dir = secrets_dir_path()
    if (
        os.environ.get(SECRETS_DIR_VARIABLE)
        and secrets_dir is not None
        and not secrets_dir.is_dir()
    ):
        problems.append(
            f"{SECRETS_DIR_VARIABLE}: no such directory {str(secrets_dir)!r}"
            f" (for example {SECRETS_DIR_VARIABLE}={DEFAULT_SECRETS_DIR}, or empty to read none)"
        )
    return problems


def with_default_locations(
    settings_cls: type[BaseSettings],
    dotenv_settings: PydanticBaseSettingsSource,
    file_secret_settings: PydanticBaseSettingsSource,
) -> tuple[PydanticBaseSettingsSource, PydanticBaseSettingsSource]:
    """Default the `.env` file and secrets dir unless chosen; read nested secrets from files."""
    if isinstance(dotenv_settings, DotEnvSettingsSource) and dotenv_settings.env_file is None:
        env_file = env_file_path()
        if env_file is not None and env_file.is_file():
            dotenv_settings = DotEnvSettingsSource(settings_cls, env_file=env_file)
    if isinstance(file_secret_settings, SecretsSettingsSource):
        secrets_dir = file_secret_settings.secrets_dir
        if secrets_dir is None:
            default = secrets_dir_path()
            secrets_dir = default if default is not None and default.is_dir() else None
        if secrets_dir is not None:
            # One file per variable, nested ones included: BILLING_DATABASE__PASSWORD.
            file_secret_settings = NestedSecretsSettingsSource(
                file_secret_settings, secrets_dir=secrets_dir
            )
    return dotenv_settings, file_secret_settings
