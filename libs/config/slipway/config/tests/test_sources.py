from pathlib import Path

import pytest
from pydantic import BaseModel, SecretStr
from pydantic_settings import SettingsConfigDict

from slipway.config import ConfigError, ServiceSettings, load_settings


class Limits(BaseModel):
    max_body_bytes: int = 1024
    burst: int = 10


class Vault(BaseModel):
    token: SecretStr = SecretStr("")


class ShopSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SHOP_")

    api_key: SecretStr = SecretStr("")
    greeting: str = "hello"
    limits: Limits = Limits()
    vault: Vault = Vault()


def test_nested_fields_use_double_underscore(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOP_LIMITS__MAX_BODY_BYTES", "2048")

    settings = load_settings(ShopSettings)

    assert settings.limits == Limits(max_body_bytes=2048, burst=10)


def test_nested_problem_names_the_nested_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOP_LIMITS__BURST", "lots")

    with pytest.raises(ConfigError) as caught:
        load_settings(ShopSettings)

    assert caught.value.problems == [
        "SHOP_LIMITS__BURST: Input should be a valid integer, unable to parse string as an integer"
    ]


def test_default_env_file_is_dot_env_in_working_directory(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("SLIPWAY_ENV_FILE")
    (tmp_path / ".env").write_text("SHOP_GREETING=from-dotenv\nOTHER_THING=ignored\n")

    assert load_settings(ShopSettings).greeting == "from-dotenv"


def test_environment_wins_over_env_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    env_file = tmp_path / "shop.env"
    env_file.write_text("SHOP_GREETING=from-dotenv\n")
    monkeypatch.setenv("SLIPWAY_ENV_FILE", str(env_file))
    monkeypatch.setenv("SHOP_GREETING", "from-environment")

    assert load_settings(ShopSettings).greeting == "from-environment"


def test_empty_env_file_variable_reads_no_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / ".env").write_text("SHOP_GREETING=from-dotenv\n")

    assert load_settings(ShopSettings).greeting == "hello"


def test_missing_configured_locations_are_problems(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SLIPWAY_ENV_FILE", str(tmp_path / "missing.env"))
    monkeypatch.setenv("SLIPWAY_SECRETS_DIR", str(tmp_path / "no-secrets"))
    monkeypatch.setenv("SHOP_LIMITS__BURST", "lots")

    with pytest.raises(ConfigError) as caught:
        load_settings(ShopSettings)

    problems = caught.value.problems
    assert len(problems) == 3
    assert problems[0].startswith("SLIPWAY_ENV_FILE: no such file")
    assert problems[1].startswith("SLIPWAY_SECRETS_DIR: no such directory")
    assert problems[2].startswith("SHOP_LIMITS__BURST:")


def test_secrets_come_from_one_file_per_variable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    secrets_dir = tmp_path / "secrets"
    secrets_dir.mkdir()
    (secrets_dir / "SHOP_API_KEY").write_text("k3y-from-a-mounted-secret-file\n")
    monkeypatch.setenv("SLIPWAY_SECRETS_DIR", str(secrets_dir))

    settings = load_settings(ShopSettings)

    assert settings.api_key.get_secret_value() == "k3y-from-a-mounted-secret-file"
    assert "k3y" not in repr(settings)


def test_nested_secret_files_use_double_underscore(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "SHOP_VAULT__TOKEN").write_text("nested-token-from-file\n")
    monkeypatch.setenv("SLIPWAY_SECRETS_DIR", str(tmp_path))

    settings = load_settings(ShopSettings)

    assert settings.vault.token.get_secret_value() == "nested-token-from-file"


def test_environment_wins_over_secret_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "SHOP_API_KEY").write_text("from-file")
    monkeypatch.setenv("SLIPWAY_SECRETS_DIR", str(tmp_path))
    monkeypatch.setenv("SHOP_API_KEY", "from-environment")

    assert load_settings(ShopSettings).api_key.get_secret_value() == "from-environment"


def test_log_renderer_defaults_to_console_only_in_development(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert load_settings(ShopSettings).log_renderer == "console"
    monkeypatch.setenv("SHOP_ENVIRONMENT", "test")
    assert load_settings(ShopSettings).log_renderer == "json"
    monkeypatch.setenv("SHOP_LOG_RENDERER", "console")
    assert load_settings(ShopSettings).log_renderer == "console"


def test_version_and_case_insensitive_log_level(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOP_VERSION", "1.4.2")
    monkeypatch.setenv("SHOP_LOG_LEVEL", "debug")

    settings = load_settings(ShopSettings)

    assert (settings.version, settings.log_level) == ("1.4.2", "DEBUG")
