"""`dev_token_main`: a service's `:token` command, on a service's real settings class."""

from pathlib import Path

import pytest
from pydantic import SecretStr
from pydantic_settings import SettingsConfigDict

from slipway.auth import AuthSettings, build_authenticator
from slipway.auth.devtoken import dev_token_main
from slipway.config import Environment, ServiceSettings

SECRET = "a development secret of at least thirty-two bytes"  # noqa: S105 - test-only
ISSUER = "https://dev.billing.local/"


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="BILLING_")

    auth: AuthSettings = AuthSettings(
        issuer=ISSUER, audience="billing", algorithms=("HS256",), hs256_secret=SecretStr(SECRET)
    )
    groups_claim: str = "teams"


class JwksSettings(Settings):
    """A service whose tokens come from an issuer's JWKS: nothing to mint them with."""

    auth: AuthSettings = AuthSettings(
        issuer=ISSUER, audience="billing", jwks_url="http://127.0.0.1:9/jwks.json"
    )


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # no stray .env
    monkeypatch.setenv("BILLING_ENVIRONMENT", "development")


def mint(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    assert dev_token_main(argv, Settings, default_scopes=("billing:read", "billing:write")) == 0
    return capsys.readouterr().out.strip()


async def test_the_token_is_what_the_service_accepts(capsys: pytest.CaptureFixture[str]) -> None:
    token = mint(["--sub", "alice", "--group", "ops", "--group", "dev"], capsys)
    authenticator = build_authenticator(Settings().auth, environment=Environment.DEVELOPMENT)

    principal = await authenticator.authenticate(token)

    assert principal.subject == "alice"
    assert principal.scopes >= {"billing:read", "billing:write"}
    assert principal.claims["teams"] == ["ops", "dev"]
    assert principal.claims["iss"] == ISSUER


async def test_scopes_given_replace_the_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    token = mint(["--scope", "billing:admin", "--ttl", "60"], capsys)
    authenticator = build_authenticator(Settings().auth, environment=Environment.DEVELOPMENT)

    principal = await authenticator.authenticate(token)

    assert principal.subject == "dev"
    assert principal.granted_scopes == {"billing:admin"}
    assert principal.claims["exp"] - principal.claims["iat"] == 60
    assert "teams" not in principal.claims


def test_without_an_hs256_secret_it_refuses_and_names_the_variables(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert dev_token_main([], JwksSettings, default_scopes=("billing:read",)) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert "no development HS256 secret is configured (BILLING_AUTH__*)" in err


def test_invalid_settings_are_a_message_not_a_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("BILLING_ENVIRONMENT", "nowhere")

    assert dev_token_main([], Settings, default_scopes=("billing:read",)) == 2
    _, err = capsys.readouterr()
    assert "BILLING_ENVIRONMENT" in err
    assert "Traceback" not in err
