import pytest
from pydantic import BaseModel, SecretStr, ValidationError
from pydantic_settings import SettingsConfigDict

from slipway.config import ConfigError, ServiceSettings, load_settings
from slipway.config.production import is_placeholder

STRONG = "Zq3v9LrT2xW8nB4kPm7s"


class Database(BaseModel):
    password: SecretStr = SecretStr("")


class PaySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="PAY_")

    signing_key: SecretStr
    webhook_secret: SecretStr | None = None
    database: Database = Database()


@pytest.fixture
def production(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAY_ENVIRONMENT", "production")


@pytest.mark.parametrize(
    "value",
    [
        "changeme",
        "CHANGE-ME",
        "secret",
        "password",
        "placeholder",
        "dev",
        "",
        "xxxxxxxxxxxxxxxxxxxx",
        "<your-signing-key-here>",
        "please-changeme-before-prod",
    ],
)
def test_placeholders_are_recognised(value: str) -> None:
    assert is_placeholder(value)


def test_random_value_is_not_a_placeholder() -> None:
    assert not is_placeholder(STRONG)


def test_real_url_on_an_example_domain_is_not_a_placeholder() -> None:
    assert not is_placeholder("postgresql://app:Xk29fjq0sLw8mQ@db.example.com:5432/app")


@pytest.mark.usefixtures("production")
def test_production_lists_every_unsafe_setting_by_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PAY_SIGNING_KEY", "changeme")
    monkeypatch.setenv("PAY_WEBHOOK_SECRET", "short-but-real")
    monkeypatch.setenv("PAY_DEBUG", "true")
    monkeypatch.setenv("PAY_DATABASE__PASSWORD", "password")

    with pytest.raises(ConfigError) as caught:
        load_settings(PaySettings)

    problems = caught.value.problems
    assert [p.split(":")[0] for p in problems] == [
        "PAY_DEBUG",
        "PAY_SIGNING_KEY",
        "PAY_WEBHOOK_SECRET",
        "PAY_DATABASE__PASSWORD",
    ]
    assert "placeholder" in problems[1]
    assert "is 14 characters long; production needs at least 16" in problems[2]
    message = str(caught.value)
    assert "secrets.token_urlsafe" in message
    for leaked in ("changeme", "short-but-real"):
        assert leaked not in message


@pytest.mark.usefixtures("production")
def test_production_accepts_strong_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAY_SIGNING_KEY", STRONG)
    monkeypatch.setenv("PAY_DATABASE__PASSWORD", STRONG[::-1])

    settings = load_settings(PaySettings)

    assert settings.webhook_secret is None
    assert settings.log_renderer == "json"


def test_development_accepts_placeholders(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAY_SIGNING_KEY", "changeme")

    assert load_settings(PaySettings).signing_key.get_secret_value() == "changeme"


@pytest.mark.usefixtures("production")
def test_direct_construction_is_refused_too() -> None:
    with pytest.raises(ValidationError, match="PAY_SIGNING_KEY: is a placeholder secret"):
        PaySettings(
            signing_key=SecretStr("changeme"), database=Database(password=SecretStr(STRONG))
        )
