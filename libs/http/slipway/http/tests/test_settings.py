"""HttpClientSettings nested in service settings, read from the environment."""

from pathlib import Path

import pytest
from pydantic import ValidationError
from pydantic_settings import SettingsConfigDict

from slipway.config import ServiceSettings, load_settings
from slipway.http import HttpClientSettings


class BillingSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="BILLING_")

    payments: HttpClientSettings = HttpClientSettings()


def test_nested_fields_come_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SLIPWAY_ENV_FILE", "")
    monkeypatch.setenv("SLIPWAY_SECRETS_DIR", "")
    monkeypatch.setenv("BILLING_PAYMENTS__BASE_URL", "http://payments:8000")
    monkeypatch.setenv("BILLING_PAYMENTS__TOTAL_TIMEOUT", "3.5")
    monkeypatch.setenv("BILLING_PAYMENTS__RETRY__ATTEMPTS", "5")
    monkeypatch.setenv("BILLING_PAYMENTS__BREAKER__FAILURE_RATIO", "0.5")

    payments = load_settings(BillingSettings).payments

    assert payments.base_url == "http://payments:8000"
    assert payments.total_timeout == 3.5
    assert payments.retry.attempts == 5
    assert payments.retry.budget_ratio == 0.2  # untouched defaults stay
    assert payments.breaker.failure_ratio == 0.5


def test_keepalive_cannot_exceed_the_pool() -> None:
    with pytest.raises(ValidationError, match="max_keepalive"):
        HttpClientSettings(max_connections=5, max_keepalive=10)
