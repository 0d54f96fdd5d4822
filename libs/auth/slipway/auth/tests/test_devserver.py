"""The development authorization server: metadata, token endpoint errors, user tokens,
key rotation seen by a running verifier, and its command line."""

import base64
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry

from slipway.auth import (
    Authenticator,
    AuthSettings,
    InvalidTokenError,
    build_authenticator,
    parse_provider_metadata,
)
from slipway.auth.devserver import build_server
from slipway.auth.testing import DevAuthorizationServer, DevClient, serve_authorization_server
from slipway.config import Environment

AUDIENCE = "contexts-api"


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


CLOCK = Clock()
SEARCH = DevClient("search", "s3cret", frozenset({"contexts:read", "contexts:index"}), AUDIENCE)


@pytest.fixture
def provider() -> Iterator[DevAuthorizationServer]:
    """A server of this test's own; its grace runs on `CLOCK`."""
    with serve_authorization_server(
        [SEARCH], audience="default-aud", grace_seconds=600, clock=CLOCK
    ) as server:
        yield server


@pytest.fixture
async def http(provider: DevAuthorizationServer) -> AsyncIterator[httpx.AsyncClient]:
    """A plain client on the server."""
    async with httpx.AsyncClient(base_url=provider.issuer) as client:
        yield client


@pytest.fixture
async def verifier(
    provider: DevAuthorizationServer, registry: CollectorRegistry
) -> AsyncIterator[Authenticator]:
    """A running verifier with the default (30 s) unknown-kid interval and discovery."""
    settings = AuthSettings(
        issuer=provider.issuer,
        audience=AUDIENCE,
        discovery=True,
        algorithms=("RS256",),
        token_cache_max_entries=0,
    )
    authenticator = build_authenticator(settings, environment=Environment.TEST, registry=registry)
    await authenticator.start()
    yield authenticator
    await authenticator.stop()


def _basic(client_id: str, secret: str) -> dict[str, str]:
    raw = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {raw}"}


async def test_the_metadata_is_valid_for_authlib(
    provider: DevAuthorizationServer, http: httpx.AsyncClient
) -> None:
    for path in ("/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"):
        document = (await http.get(path)).json()
        found = parse_provider_metadata(
            document,
            issuer=provider.issuer,
            url=provider.issuer + path,
            require_https=False,
            require=("jwks_uri", "token_endpoint"),
        )
        assert found.token_endpoint == f"{provider.issuer}/token"
        assert found.grant_types_supported == ("client_credentials",)
        assert "client_secret_basic" in found.token_endpoint_auth_methods_supported


@pytest.mark.parametrize(
    ("headers", "form", "status", "error"),
    [
        ({}, {"grant_type": "client_credentials"}, 401, "invalid_client"),
        (_basic("search", "wrong"), {"grant_type": "client_credentials"}, 401, "invalid_client"),
        (_basic("nobody", "s3cret"), {"grant_type": "client_credentials"}, 401, "invalid_client"),
        (_basic("search", "s3cret"), {}, 400, "invalid_request"),
        (_basic("search", "s3cret"), {"grant_type": "password"}, 400, "unsupported_grant_type"),
        (
            _basic("search", "s3cret"),
            {"grant_type": "client_credentials", "scope": "contexts:admin"},
            400,
            "invalid_scope",
        ),
    ],
)
async def test_token_endpoint_errors_are_oauth_json(
    http: httpx.AsyncClient, headers: dict[str, str], form: dict[str, str], status: int, error: str
) -> None:
    response = await http.post("/token", headers=headers, data=form)
    assert response.status_code == status
    assert response.json()["error"] == error
    assert response.headers["cache-control"] == "no-store"
    if headers and status == 401:
        assert response.headers["www-authenticate"].startswith("Basic ")


async def test_a_form_body_is_required(http: httpx.AsyncClient) -> None:
    response = await http.post(
        "/token", headers=_basic("search", "s3cret"), json={"grant_type": "client_credentials"}
    )
    assert (response.status_code, response.json()["error"]) == (400, "invalid_request")


async def test_a_client_gets_its_scopes_and_the_asked_audience(
    http: httpx.AsyncClient, verifier: Authenticator
) -> None:
    response = await http.post(
        "/token", headers=_basic("search", "s3cret"), data={"grant_type": "client_credentials"}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "Bearer"  # noqa: S105 - a token type, not a password
    assert body["expires_in"] == 300
    principal = await verifier.authenticate(body["access_token"])
    assert principal.granted_scopes == {"contexts:read", "contexts:index"}
    other = await http.post(
        "/token",
        data={
            "grant_type": "client_credentials",
            "client_id": "search",
            "client_secret": "s3cret",
            "resource": "https://elsewhere.example/",
        },
    )
    with pytest.raises(InvalidTokenError):  # minted for another audience
        await verifier.authenticate(other.json()["access_token"])


async def test_development_user_tokens(http: httpx.AsyncClient, verifier: Authenticator) -> None:
    response = await http.post(
        "/dev/token",
        json={
            "sub": "alice",
            "groups": ["team-a"],
            "scopes": ["contexts:read"],
            "audience": AUDIENCE,
        },
    )
    principal = await verifier.authenticate(response.json()["access_token"])
    assert principal.subject == "alice"
    assert principal.claims["groups"] == ["team-a"]
    assert principal.client_id is None
    bad = await http.post("/dev/token", json={"groups": []})
    assert (bad.status_code, bad.json()["error"]) == (400, "invalid_request")


async def test_rotation_while_a_verifier_runs_causes_no_401(
    provider: DevAuthorizationServer, http: httpx.AsyncClient, verifier: Authenticator
) -> None:
    before = provider.issue("svc", audience=AUDIENCE)
    assert (await verifier.authenticate(before)).subject == "svc"
    rotated = await http.post("/dev/rotate")  # the running process's admin endpoint
    assert rotated.json()["current_kid"] == provider.current.kid
    after = provider.issue("svc", audience=AUDIENCE)  # signed with the new key at once
    # No refetch is allowed yet (30 s since start-up), yet the new key is known: it was
    # published as `next` before it signed anything.
    assert (await verifier.authenticate(after)).subject == "svc"
    assert (await verifier.authenticate(before)).subject == "svc"  # the old one: in grace
    jwks = verifier.verifier.jwks
    assert jwks is not None
    assert await jwks.refresh()  # the scheduled refresh: the new `next` is published
    CLOCK.now += 300
    provider.rotate()  # a second rotation: the key made `next` by the first is current
    newest = provider.issue("svc", audience=AUDIENCE)
    assert (await verifier.authenticate(newest)).subject == "svc"
    CLOCK.now += 301  # the first key's grace (600 s) is over, the second's is not
    assert await jwks.refresh()
    with pytest.raises(InvalidTokenError):
        await verifier.authenticate(before)
    assert (await verifier.authenticate(after)).subject == "svc"  # retired later


def test_the_command_line(tmp_path: Path) -> None:
    clients = tmp_path / "clients.json"
    clients.write_text(
        json.dumps([{"client_id": "ops", "client_secret": "x", "scopes": "contexts:admin"}])
    )
    server, host, port = build_server(
        [
            "--port",
            "9401",
            "--client",
            "search:secret:contexts:read,contexts:index@contexts-api",
            "--clients-file",
            str(clients),
        ]
    )
    assert (host, port, server.issuer) == ("127.0.0.1", 9401, "http://127.0.0.1:9401")
    client = server.clients["search"]
    assert client.scopes == {"contexts:read", "contexts:index"}
    assert client.audience == "contexts-api"
    assert server.clients["ops"].scopes == {"contexts:admin"}


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--client", "only-an-id"], "expected id:secret"),
        (["--port", "0"], "not a port"),
        (["--environment", "production"], "refusing to run in production"),
        (["--clients-file", "/nonexistent/clients.json"], "No such file"),
    ],
)
def test_bad_flags_give_one_message(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        build_server(argv)
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err


def test_production_is_refused_by_the_class_too() -> None:
    with pytest.raises(RuntimeError, match="production"):
        DevAuthorizationServer(environment="production")
