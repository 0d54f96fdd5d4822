import pytest
from pydantic import ValidationError
from pydantic_settings import SettingsConfigDict

from slipway.config import ServiceSettings
from slipway.observability import ObservabilitySettings


def test_defaults_export_nothing_and_sample_everything() -> None:
    settings = ObservabilitySettings()

    assert settings.otlp_endpoint is None
    assert settings.sample_ratio == 1.0
    assert settings.metrics_path == "/metrics"


def test_blank_endpoint_means_unset() -> None:
    assert ObservabilitySettings(otlp_endpoint="  ").otlp_endpoint is None


@pytest.mark.parametrize(
    "fields",
    [
        {"otlp_endpoint": "collector:4318"},
        {"sample_ratio": 1.5},
        {"sample_ratio": -0.01},
        {"metrics_path": "metrics"},
    ],
)
def test_invalid_values_are_refused(fields: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        ObservabilitySettings.model_validate(fields)


class BillingSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="BILLING_", env_nested_delimiter="__")

    observability: ObservabilitySettings = ObservabilitySettings()


def test_nests_in_service_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BILLING_OBSERVABILITY__OTLP_ENDPOINT", "http://collector:4318")
    monkeypatch.setenv("BILLING_OBSERVABILITY__SAMPLE_RATIO", "0.25")

    settings = BillingSettings()

    assert settings.observability.otlp_endpoint == "http://collector:4318"
    assert settings.observability.sample_ratio == 0.25
