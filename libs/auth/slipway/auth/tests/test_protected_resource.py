"""RFC 9728 protected resource metadata, the challenges pointing at it, and RFC 8707 audiences."""

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client import CollectorRegistry
from pydantic import ValidationError
from starlette.types import Receive, Scope, Send

from slipway.auth import (
    AuthSettings,
    AuthSettingsError,
    BearerGate,
    build_authenticator,
    metadata_paths,
    metadata_url_for,
    protected_resource_router,
)
from slipway.auth.testing import JwksServer, mint_token
from slipway.auth.tests.conftest import AUDIENCE, ISSUER, Keys, build_app
from slipway.web.testing import app_client

RESOURCE = "https://contexts.test/mcp"
METADATA_URL = "https://contexts.test/.well-known/oauth-protected-resource/mcp"
AUTH_SERVER = "https://login.test/"


@pytest.fixture
def resource_settings(jwks_server: JwksServer) -> AuthSettings:
    """Settings for a protected resource at RESOURCE, trusting the test issuer."""
    return AuthSettings(
        issuer=ISSUER,
        audience=AUDIENCE,
        jwks_url=jwks_server.url,
        resource=RESOURCE,
        scopes_supported=("contexts:read", "contexts:write"),
        resource_name="Contexts",
    )


async def _ok(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


def _app(settings: AuthSettings, registry: CollectorRegistry) -> FastAPI:
    authenticator = build_authenticator(settings, environment="test", registry=registry)
    app = build_app(authenticator)
    app.include_router(protected_resource_router(settings))
    gate = BearerGate(
        _ok,
        authenticator,
        required=("contexts:read", "contexts:write"),
        any_of=True,
        challenge_scope=("contexts:read", "contexts:write"),
    )
    app.mount("/mcp", gate)
    return app


@pytest.fixture
async def resource_client(
    resource_settings: AuthSettings, registry: CollectorRegistry
) -> AsyncIterator[httpx.AsyncClient]:
    """The conftest app with the metadata routes and a gated /mcp mount."""
    async with app_client(_app(resource_settings, registry)) as http:
        yield http


def _bearer(keys: Keys, audience: Any, scopes: tuple[str, ...] = ("contexts:read",)) -> Any:
    token = mint_token(keys.rsa, issuer=ISSUER, audience=audience, scopes=scopes)
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize(
    ("resource", "expected"),
    [
        (RESOURCE, METADATA_URL),
        ("https://contexts.test", "https://contexts.test/.well-known/oauth-protected-resource"),
        ("https://contexts.test/", "https://contexts.test/.well-known/oauth-protected-resource"),
        (
            "https://h.test:8443/a/b/",
            "https://h.test:8443/.well-known/oauth-protected-resource/a/b",
        ),
        (
            "https://h.test/r?tenant=1",
            "https://h.test/.well-known/oauth-protected-resource/r?tenant=1",
        ),
    ],
)
def test_metadata_url_inserts_the_well_known_path(resource: str, expected: str) -> None:
    assert metadata_url_for(resource) == expected


def test_challenge_url_is_derived_from_the_resource_unless_set() -> None:
    base: dict[str, Any] = {"issuer": ISSUER, "audience": AUDIENCE, "jwks_url": "https://i.test/"}
    assert AuthSettings(**base).challenge_metadata_url is None
    assert AuthSettings(**base, resource=RESOURCE).challenge_metadata_url == METADATA_URL
    explicit = "https://meta.test/.well-known/oauth-protected-resource"
    settings = AuthSettings(**base, resource=RESOURCE, resource_metadata_url=explicit)
    assert settings.challenge_metadata_url == explicit
    assert metadata_paths(settings) == (
        "/.well-known/oauth-protected-resource/mcp",
        "/.well-known/oauth-protected-resource",
    )


@pytest.mark.parametrize(
    "field",
    [
        {"resource": "https://contexts.test/mcp#frag"},
        {"resource": 'https://contexts.test/"mcp'},
        {"resource": "urn:contexts"},
        {"authorization_servers": ("not a url",)},
        {"scopes_supported": ('bad"scope',)},
        {"audience": ""},
    ],
)
def test_resource_settings_are_checked(field: dict[str, Any]) -> None:
    base: dict[str, Any] = {"issuer": ISSUER, "audience": AUDIENCE, "jwks_url": "https://i.test/"}
    with pytest.raises(ValidationError):
        AuthSettings(**{**base, **field})


def test_production_needs_an_https_resource() -> None:
    settings = AuthSettings(
        issuer=ISSUER,
        audience=AUDIENCE,
        jwks_url="https://i.test/jwks",
        resource="http://contexts.test/mcp",
    )
    with pytest.raises(AuthSettingsError, match=r"auth\.resource"):
        build_authenticator(settings, environment="production")


@pytest.mark.parametrize(
    "path", ["/.well-known/oauth-protected-resource/mcp", "/.well-known/oauth-protected-resource"]
)
async def test_metadata_is_served_publicly_at_both_well_known_urls(
    resource_client: httpx.AsyncClient, path: str
) -> None:
    response = await resource_client.get(path)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.headers["cache-control"] == "public, max-age=3600"
    assert response.json() == {
        "resource": RESOURCE,
        "authorization_servers": [ISSUER],
        "scopes_supported": ["contexts:read", "contexts:write"],
        "bearer_methods_supported": ["header"],
        "resource_name": "Contexts",
    }
    head = await resource_client.head(path)
    assert head.status_code == 200
    assert (await resource_client.post(path)).status_code == 405


async def test_metadata_names_the_configured_authorization_servers(
    resource_settings: AuthSettings, registry: CollectorRegistry
) -> None:
    settings = resource_settings.model_copy(update={"authorization_servers": (AUTH_SERVER,)})
    async with app_client(_app(settings, registry)) as client:
        body = (await client.get("/.well-known/oauth-protected-resource")).json()
    assert body["authorization_servers"] == [AUTH_SERVER]


async def test_a_401_points_at_the_metadata_and_names_the_scope(
    resource_client: httpx.AsyncClient, keys: Keys
) -> None:
    missing = await resource_client.get("/contexts")
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"] == (
        f'Bearer scope="contexts:read", resource_metadata="{METADATA_URL}"'
    )
    invalid = await resource_client.get("/contexts", headers=_bearer(keys, "another-api"))
    assert invalid.status_code == 401
    assert invalid.headers["www-authenticate"] == (
        'Bearer error="invalid_token", error_description="the token is meant for another '
        f'audience", scope="contexts:read", resource_metadata="{METADATA_URL}"'
    )


async def test_a_403_names_the_scope_and_the_metadata(
    resource_client: httpx.AsyncClient, keys: Keys
) -> None:
    response = await resource_client.post("/contexts", headers=_bearer(keys, AUDIENCE))
    assert response.status_code == 403
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith('Bearer error="insufficient_scope"')
    assert 'scope="contexts:read contexts:write"' in challenge
    assert challenge.endswith(f'resource_metadata="{METADATA_URL}"')


async def test_a_gate_challenges_for_its_challenge_scope(
    resource_client: httpx.AsyncClient, keys: Keys
) -> None:
    missing = await resource_client.post("/mcp/")
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"] == (
        f'Bearer scope="contexts:read contexts:write", resource_metadata="{METADATA_URL}"'
    )
    refused = await resource_client.post("/mcp/", headers=_bearer(keys, AUDIENCE, ("other",)))
    assert refused.status_code == 403
    assert 'scope="contexts:read contexts:write"' in refused.headers["www-authenticate"]


@pytest.mark.parametrize(
    ("audience", "status"),
    [
        (AUDIENCE, 200),
        (["other-api", AUDIENCE], 200),
        (RESOURCE, 200),  # RFC 8707: the issuer put the resource identifier in aud
        (["other-api", RESOURCE], 200),
        ("other-api", 401),
        (["other-api", "third-api"], 401),
        (RESOURCE + "/", 401),  # compared exactly
        ("https://contexts.test/", 401),
        (AUDIENCE.upper(), 401),
        (None, 401),  # no aud at all
        ([], 401),
    ],
)
async def test_the_audience_must_be_ours_or_the_resource(
    resource_client: httpx.AsyncClient, keys: Keys, audience: Any, status: int
) -> None:
    response = await resource_client.get("/contexts", headers=_bearer(keys, audience))
    assert response.status_code == status, response.text
    if status == 401:
        assert 'error="invalid_token"' in response.headers["www-authenticate"]


async def test_the_resource_is_no_audience_when_not_configured(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    response = await client.get("/contexts", headers=_bearer(keys, RESOURCE))
    assert response.status_code == 401
    assert response.json()["detail"] == "the token is meant for another audience"
