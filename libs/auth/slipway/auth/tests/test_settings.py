"""AuthSettings validation, the production rules, and HS256 in development."""

import base64
import hashlib
import hmac

import pytest
from cryptography.hazmat.primitives import serialization
from pydantic import BaseModel, SecretStr, ValidationError
from pydantic_settings import SettingsConfigDict

from slipway.auth import AuthSettings, AuthSettingsError, build_authenticator
from slipway.auth.testing import JwksServer, hs256_signing_key, mint_token
from slipway.auth.tests.conftest import AUDIENCE, ISSUER, Keys, build_app
from slipway.config import Environment, ServiceSettings, load_settings
from slipway.web.testing import app_client

SECRET = "a-development-secret-of-32-bytes-at-least"  # noqa: S105 - test-only key


def test_hs256_needs_a_long_secret_and_the_algorithm_listed() -> None:
    with pytest.raises(ValidationError, match="hs256_secret is not set"):
        AuthSettings(issuer=ISSUER, audience=AUDIENCE, algorithms=("HS256",))
    with pytest.raises(ValidationError, match="at least 32 bytes"):
        AuthSettings(
            issuer=ISSUER, audience=AUDIENCE, algorithms=("HS256",), hs256_secret=SecretStr("short")
        )
    with pytest.raises(ValidationError, match="do not include HS256"):
        AuthSettings(
            issuer=ISSUER,
            audience=AUDIENCE,
            jwks_url="https://issuer.test/jwks",
            hs256_secret=SecretStr(SECRET),
        )
    with pytest.raises(ValidationError, match="jwks_url is required"):
        AuthSettings(issuer=ISSUER, audience=AUDIENCE)
    with pytest.raises(ValidationError, match="http"):
        AuthSettings(issuer=ISSUER, audience=AUDIENCE, jwks_url="file:///etc/jwks.json")


def test_production_refuses_hs256_and_plain_http_keys() -> None:
    hs256 = AuthSettings(
        issuer=ISSUER, audience=AUDIENCE, algorithms=("HS256",), hs256_secret=SecretStr(SECRET)
    )
    with pytest.raises(AuthSettingsError, match="development and test only"):
        build_authenticator(hs256, environment=Environment.PRODUCTION)
    build_authenticator(hs256, environment="development")
    plain = AuthSettings(issuer=ISSUER, audience=AUDIENCE, jwks_url="http://issuer.test/jwks")
    with pytest.raises(AuthSettingsError, match="https"):
        build_authenticator(plain, environment="production")


def test_settings_nest_in_service_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    class BillingSettings(ServiceSettings):
        model_config = SettingsConfigDict(env_prefix="BILLING_")
        auth: AuthSettings

    monkeypatch.setenv("BILLING_AUTH__ISSUER", ISSUER)
    monkeypatch.setenv("BILLING_AUTH__AUDIENCE", AUDIENCE)
    monkeypatch.setenv("BILLING_AUTH__JWKS_URL", "https://issuer.test/jwks")
    monkeypatch.setenv("BILLING_AUTH__ALGORITHMS", '["ES256"]')
    settings = load_settings(BillingSettings)
    assert settings.auth.algorithms == ("ES256",)
    assert isinstance(settings.auth, BaseModel)
    build_authenticator(settings.auth, environment=settings.environment)


async def test_hs256_in_development_and_rs_hs_confusion_still_fails(
    jwks_server: JwksServer, keys: Keys
) -> None:
    settings = AuthSettings(
        issuer=ISSUER,
        audience=AUDIENCE,
        jwks_url=jwks_server.url,
        algorithms=("RS256", "HS256"),
        hs256_secret=SecretStr(SECRET),
    )
    authenticator = build_authenticator(settings, environment="development")
    shared = mint_token(hs256_signing_key(SECRET), issuer=ISSUER, audience=AUDIENCE)
    rsa = mint_token(keys.rsa, issuer=ISSUER, audience=AUDIENCE)
    pem = keys.rsa.private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header, payload, _ = shared.split(".")
    forged_signature = hmac.new(pem, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    forged = f"{header}.{payload}.{base64.urlsafe_b64encode(forged_signature).decode().rstrip('=')}"
    async with app_client(build_app(authenticator)) as client:
        for token, status in ((shared, 200), (rsa, 200), (forged, 401)):
            response = await client.get("/me", headers={"Authorization": f"Bearer {token}"})
            assert response.status_code == status, response.text
