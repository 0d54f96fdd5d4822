import pytest
from pydantic import Field
from pydantic_settings import SettingsConfigDict

from slipway.config import ConfigError, Environment, ServiceSettings, load_settings


class BillingSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="BILLING_")

    port: int = Field(default=8000, ge=1, le=65535, examples=[8080])
    upstream_url: str = Field(examples=["https://payments.internal"])


def test_reads_fields_from_prefixed_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BILLING_PORT", "9000")
    monkeypatch.setenv("BILLING_UPSTREAM_URL", "https://payments.internal")
    monkeypatch.setenv("BILLING_ENVIRONMENT", "test")

    settings = load_settings(BillingSettings)

    assert settings.port == 9000
    assert settings.environment is Environment.TEST


def test_every_problem_is_reported_once_with_variable_and_example(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BILLING_PORT", "not-a-port")
    monkeypatch.delenv("BILLING_UPSTREAM_URL", raising=False)

    with pytest.raises(ConfigError) as caught:
        load_settings(BillingSettings)

    message = str(caught.value)
    assert message.splitlines()[0] == "Invalid configuration for BillingSettings:"
    assert len(caught.value.problems) == 2
    assert "BILLING_PORT: Input should be a valid integer" in message
    assert "BILLING_UPSTREAM_URL: Field required" in message
    assert "(for example BILLING_UPSTREAM_URL=https://payments.internal)" in message
    assert "Traceback" not in message


def test_production_refuses_debug(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BILLING_UPSTREAM_URL", "https://payments.internal")
    monkeypatch.setenv("BILLING_ENVIRONMENT", "production")
    monkeypatch.setenv("BILLING_DEBUG", "true")

    with pytest.raises(ConfigError, match="debug must be false when environment is production"):
        load_settings(BillingSettings)


def test_development_allows_debug() -> None:
    settings = load_settings(BillingSettings, upstream_url="http://localhost:9999", debug=True)

    assert settings.debug is True
    assert settings.environment is Environment.DEVELOPMENT
