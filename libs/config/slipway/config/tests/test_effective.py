import json
import sys
from pathlib import Path

import pytest
from pydantic import SecretStr
from pydantic_settings import SettingsConfigDict

from slipway.config import ServiceSettings
from slipway.config.effective import main


class TokenSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="TOKENS_")

    signing_key: SecretStr


def test_prints_effective_settings_as_json(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SLIPWAY_SERVICE_NAME", "billing")

    assert main([]) == 0

    printed = json.loads(capsys.readouterr().out)
    assert printed["service_name"] == "billing"
    assert printed["environment"] == "development"


def test_secrets_are_redacted(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TOKENS_SIGNING_KEY", "hunter2-very-secret")

    assert main(["--settings", f"{__name__}:TokenSettings"]) == 0

    out = capsys.readouterr().out
    assert "hunter2" not in out
    assert json.loads(out)["signing_key"] == "**********"


def test_bad_configuration_exits_2_with_readable_message(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SLIPWAY_DEBUG", "maybe-later")

    assert main([]) == 2

    err = capsys.readouterr().err
    assert "SLIPWAY_DEBUG: Input should be a valid boolean" in err
    assert "Traceback" not in err


def test_unknown_settings_class_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--settings", "no_such_module:Settings"])

    assert exited.value.code == 2
    assert "cannot import 'no_such_module'" in capsys.readouterr().err


SERVICE_MODULE = """
from pydantic import BaseModel, SecretStr
from pydantic_settings import SettingsConfigDict
from slipway.config import ServiceSettings


class Database(BaseModel):
    url: str = "postgresql://app:db-pass-123@db.internal:5432/app"
    password: SecretStr = SecretStr("nested-secret-value")
    pool_token: str = "plain-string-token-value"


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CATALOG_")

    database: Database = Database()
"""


def test_service_settings_class_from_pythonpath_with_nested_secrets_redacted(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    package = tmp_path / "src" / "catalog_effective_demo"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "settings.py").write_text(SERVICE_MODULE)
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.setenv("CATALOG_SERVICE_NAME", "catalog")
    monkeypatch.setenv("CATALOG_DATABASE__POOL_TOKEN", "env-token-value")

    argv = [
        "--pythonpath",
        str(tmp_path / "src"),
        "--settings",
        "catalog_effective_demo.settings:Settings",
    ]
    assert main(argv) == 0

    out = capsys.readouterr().out
    printed = json.loads(out)
    assert printed["service_name"] == "catalog"
    assert printed["database"] == {
        "password": "**********",
        "pool_token": "**********",
        "url": "postgresql://app:**********@db.internal:5432/app",
    }
    for leaked in ("nested-secret-value", "env-token-value", "db-pass-123"):
        assert leaked not in out
