"""Security headers, HSTS only over https, CORS from settings, docs CSP."""

import pytest
from pydantic import ValidationError
from pydantic_settings import SettingsConfigDict

from slipway.config import ServiceSettings
from slipway.web import WebSettings, create_app
from slipway.web.security import API_CSP, DOCS_CSP
from slipway.web.testing import app_client


async def test_security_headers_on_success_and_errors(service_settings: ServiceSettings) -> None:
    app = create_app(service_settings)
    async with app_client(app) as client:
        for path in ("/health", "/missing"):
            response = await client.get(path)
            assert response.headers["x-content-type-options"] == "nosniff"
            assert response.headers["x-frame-options"] == "DENY"
            assert response.headers["referrer-policy"] == "no-referrer"
            assert response.headers["content-security-policy"] == API_CSP
            assert "frame-ancestors 'none'" in API_CSP
            assert "strict-transport-security" not in response.headers


async def test_docs_get_a_csp_that_allows_swagger_ui(service_settings: ServiceSettings) -> None:
    app = create_app(service_settings)
    async with app_client(app) as client:
        response = await client.get("/docs")
    assert response.status_code == 200
    assert "cdn.jsdelivr.net" in response.text
    assert response.headers["content-security-policy"] == DOCS_CSP
    assert "https://cdn.jsdelivr.net" in DOCS_CSP


async def test_hsts_only_over_https(service_settings: ServiceSettings) -> None:
    app = create_app(service_settings)
    async with app_client(app, base_url="https://testserver") as client:
        response = await client.get("/health")
    assert response.headers["strict-transport-security"].startswith("max-age=31536000")


@pytest.mark.parametrize(("trusted", "expected"), [(True, True), (False, False)])
async def test_hsts_from_forwarded_proto_only_when_trusted(
    service_settings: ServiceSettings, trusted: bool, expected: bool
) -> None:
    app = create_app(service_settings, web=WebSettings(trust_forwarded_proto=trusted))
    async with app_client(app) as client:
        response = await client.get("/health", headers={"x-forwarded-proto": "https"})
    assert ("strict-transport-security" in response.headers) is expected


async def test_cors_from_settings(service_settings: ServiceSettings) -> None:
    web = WebSettings(cors_origins=["https://app.example"], cors_allow_credentials=True)
    app = create_app(service_settings, web=web)
    async with app_client(app) as client:
        preflight = await client.options(
            "/health",
            headers={
                "origin": "https://app.example",
                "access-control-request-method": "GET",
            },
        )
        allowed = await client.get("/health", headers={"origin": "https://app.example"})
        other = await client.get("/health", headers={"origin": "https://evil.example"})
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "https://app.example"
    assert allowed.headers["access-control-allow-origin"] == "https://app.example"
    assert allowed.headers["access-control-allow-credentials"] == "true"
    exposed = [name.strip() for name in allowed.headers["access-control-expose-headers"].split(",")]
    assert {"X-Request-ID", "traceresponse", "RateLimit-Remaining"} <= set(exposed)
    assert "access-control-allow-origin" not in other.headers


async def test_no_cors_exposure_without_cors(service_settings: ServiceSettings) -> None:
    # Access-Control-Expose-Headers means nothing on a response that allows no origin.
    app = create_app(service_settings)
    async with app_client(app) as client:
        response = await client.get("/nowhere", headers={"origin": "https://app.example"})
    assert response.headers["traceresponse"].startswith("00-")
    assert "access-control-expose-headers" not in response.headers


async def test_no_cors_headers_without_origins(service_settings: ServiceSettings) -> None:
    app = create_app(service_settings)
    async with app_client(app) as client:
        response = await client.get("/health", headers={"origin": "https://app.example"})
    assert "access-control-allow-origin" not in response.headers


def test_wildcard_origin_with_credentials_is_refused() -> None:
    with pytest.raises(ValidationError, match="may not contain '\\*'"):
        WebSettings(cors_origins=["*"], cors_allow_credentials=True)
    assert WebSettings(cors_origins=["*"]).cors_origins == ["*"]


def test_web_settings_nest_in_service_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    class Settings(ServiceSettings):
        model_config = ServiceSettings.model_config | SettingsConfigDict(
            env_prefix="WEBTEST_", env_nested_delimiter="__"
        )

        web: WebSettings = WebSettings()

    monkeypatch.setenv("WEBTEST_WEB__MAX_BODY_BYTES", "2048")
    monkeypatch.setenv("WEBTEST_WEB__RATE_LIMIT__REQUESTS", "7")
    settings = Settings()
    assert settings.web.max_body_bytes == 2048
    app = create_app(settings)
    assert app.state.web_settings.rate_limit.requests == 7
