import json

import pytest
from pydantic import SecretStr

from slipway.config import ServiceSettings
from slipway.config.effective import main


class TokenSettings(ServiceSettings):
    model_config = {**ServiceSettings.model_config, "env_prefix": "TOKENS_"}

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
