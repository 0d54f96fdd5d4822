"""MCP authorization (2025-11-25): RFC 9728 metadata, the challenges, RFC 8707 audiences.

The whole service (`build_app` on SQLite) as a client sees it, discovered and checked with
the MCP SDK's own client-side helpers (`mcp.client.auth.utils`, `mcp.shared.auth`).
"""

from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from mcp.client.auth.utils import (
    build_protected_resource_metadata_discovery_urls,
    extract_resource_metadata_from_www_auth,
    extract_scope_from_www_auth,
    handle_protected_resource_response,
)
from mcp.shared.auth_utils import check_resource_allowed, resource_url_from_server_url
from pydantic import SecretStr

from contexts.main import service
from contexts.mcp.auth import protected_resource_settings, public_base_url
from contexts.settings import DEV_AUDIENCE, DEV_HS256_SECRET, DEV_ISSUER, Settings
from slipway.auth import AuthSettings, AuthSettingsError
from slipway.auth.testing import hs256_signing_key, mint_token
from slipway.config import Environment
from slipway.db import DatabaseSettings
from slipway.web import WebSettings
from slipway.web.testing import app_client

ISSUER = "https://auth.example.com/"
BASE = "https://contexts.example.com"
RESOURCE = f"{BASE}/mcp"
METADATA_URL = f"{BASE}/.well-known/oauth-protected-resource/mcp"
SCOPES = ["contexts:read", "contexts:write", "contexts:admin"]
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-11-25",
        "capabilities": {},
        "clientInfo": {"name": "test", "version": "1"},
    },
}
MCP_HEADERS = {"accept": "application/json, text/event-stream"}


def _sdk(response: httpx.Response) -> Any:
    """The SDK's helpers are typed for httpx2 responses; they read only the same members."""
    return response


def _database(tmp_path: Path) -> DatabaseSettings:
    return DatabaseSettings(url=SecretStr(f"sqlite+aiosqlite:///{tmp_path / 'test.db'}"))


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """A deployment at BASE whose tokens come from ISSUER (HS256 here: the test environment)."""
    return Settings(
        environment=Environment.TEST,
        database=_database(tmp_path),
        redis=None,
        public_base_url=BASE + "/",
        auth=AuthSettings(
            issuer=ISSUER,
            audience=DEV_AUDIENCE,
            algorithms=("HS256",),
            hs256_secret=SecretStr(DEV_HS256_SECRET),
        ),
    )


def _token(audience: Any = DEV_AUDIENCE, issuer: str = ISSUER, **claims: Any) -> dict[str, str]:
    token = mint_token(
        hs256_signing_key(DEV_HS256_SECRET),
        issuer=issuer,
        audience=audience,
        scopes=["contexts:read", "contexts:write"],
        claims=claims or None,
    )
    return {"Authorization": f"Bearer {token}", **MCP_HEADERS}


@pytest.mark.parametrize(
    "path", ["/.well-known/oauth-protected-resource/mcp", "/.well-known/oauth-protected-resource"]
)
async def test_metadata_at_both_well_known_urls(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.headers["cache-control"].startswith("public, max-age=")
    assert response.json() == {
        "resource": RESOURCE,
        "authorization_servers": [ISSUER],
        "scopes_supported": SCOPES,
        "bearer_methods_supported": ["header"],
        "resource_name": "contexts",
    }
    # The SDK's client accepts the document, and its resource for the endpoint's URL.
    metadata = await handle_protected_resource_response(_sdk(response))
    assert metadata is not None
    assert str(metadata.resource) == RESOURCE
    assert check_resource_allowed(resource_url_from_server_url(RESOURCE), str(metadata.resource))


async def test_a_401_from_mcp_leads_the_client_to_the_metadata(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post("/mcp", json=INITIALIZE, headers=MCP_HEADERS)
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"] == (
        f'Bearer scope="contexts:read contexts:write", resource_metadata="{METADATA_URL}"'
    )
    assert extract_resource_metadata_from_www_auth(_sdk(response)) == METADATA_URL
    assert extract_scope_from_www_auth(_sdk(response)) == "contexts:read contexts:write"
    urls = build_protected_resource_metadata_discovery_urls(METADATA_URL, RESOURCE)
    assert urls[0] == METADATA_URL
    for url in urls:  # the served paths are the ones the SDK tries, in its order
        found = await client.get(httpx.URL(url).path)
        assert found.status_code == 200, url


@pytest.mark.parametrize(
    ("audience", "detail"),
    [
        ("another-api", "the token is meant for another audience"),
        (f"{BASE}/other", "the token is meant for another audience"),
        (BASE, "the token is meant for another audience"),
        (None, "the token lacks a required claim"),
    ],
    ids=["other-api", "other-resource", "base-url", "no-aud"],
)
async def test_a_token_for_another_audience_is_401_invalid_token(
    client: httpx.AsyncClient, audience: Any, detail: str
) -> None:
    response = await client.post("/mcp", json=INITIALIZE, headers=_token(audience))
    assert response.status_code == 401
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith(f'Bearer error="invalid_token", error_description="{detail}"')
    assert challenge.endswith(f'resource_metadata="{METADATA_URL}"')
    assert 'scope="contexts:read contexts:write"' in challenge
    assert response.json()["detail"] == detail


@pytest.mark.parametrize(
    "audience",
    [DEV_AUDIENCE, RESOURCE, ["another-api", RESOURCE], [DEV_AUDIENCE, "another-api"]],
    ids=["audience", "resource", "list-with-resource", "list-with-audience"],
)
async def test_a_token_for_the_audience_or_the_resource_is_served(
    client: httpx.AsyncClient, audience: Any
) -> None:
    response = await client.post("/mcp", json=INITIALIZE, headers=_token(audience))
    assert response.status_code == 200, response.text


async def test_rest_401s_point_at_the_metadata_too(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/contexts/team-a/runbook")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == (
        f'Bearer scope="contexts:read", resource_metadata="{METADATA_URL}"'
    )


async def test_development_default_is_the_local_endpoint(tmp_path: Path) -> None:
    settings = Settings(environment=Environment.TEST, database=_database(tmp_path), redis=None)
    app: FastAPI = service.build_app(settings)
    async with app_client(app) as client:
        body = (await client.get("/.well-known/oauth-protected-resource")).json()
        missing = await client.post("/mcp", json=INITIALIZE, headers=MCP_HEADERS)
    assert body["resource"] == "http://127.0.0.1:8000/mcp"
    assert body["authorization_servers"] == [DEV_ISSUER]
    assert extract_resource_metadata_from_www_auth(_sdk(missing)) == (
        "http://127.0.0.1:8000/.well-known/oauth-protected-resource/mcp"
    )


def test_public_base_url_defaults_from_the_listener(tmp_path: Path) -> None:
    def base(host: str) -> str:
        web = WebSettings(host=host, port=9000)
        return public_base_url(Settings(environment=Environment.TEST, web=web))

    assert base("0.0.0.0") == "http://localhost:9000"  # noqa: S104 - a setting, not a bind
    assert base("::1") == "http://[::1]:9000"
    assert base("contexts.internal") == "http://contexts.internal:9000"


def test_explicit_auth_resource_wins(settings: Settings) -> None:
    auth = settings.auth.model_copy(update={"resource": "https://mcp.example.com/"})
    derived = protected_resource_settings(settings.model_copy(update={"auth": auth}))
    assert derived.resource == "https://mcp.example.com/"
    assert derived.challenge_metadata_url == (
        "https://mcp.example.com/.well-known/oauth-protected-resource"
    )


def test_production_needs_a_public_base_url() -> None:
    settings = Settings.model_construct(
        environment=Environment.PRODUCTION,
        public_base_url=None,
        auth=AuthSettings(issuer=ISSUER, audience=DEV_AUDIENCE, jwks_url=f"{ISSUER}jwks"),
        service_name="contexts",
        web=WebSettings(),
    )
    with pytest.raises(AuthSettingsError, match="CONTEXTS_PUBLIC_BASE_URL"):
        protected_resource_settings(settings)
