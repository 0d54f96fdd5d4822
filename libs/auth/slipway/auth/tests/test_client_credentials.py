"""The client-credentials token source over a real ResilientClient and a real dev server."""

import asyncio
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from prometheus_client import CollectorRegistry
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from slipway.auth import (
    AuthSettings,
    BearerTokenAuth,
    ClientCredentialsSettings,
    ClientCredentialsTokenSource,
    TokenRequestRefusedError,
    TokenUnavailableError,
    build_authenticator,
)
from slipway.auth.testing import DevAuthorizationServer, DevClient, serve_authorization_server
from slipway.config import Environment
from slipway.http import HttpClientSettings, ResilientClient, UpstreamStatusError
from slipway.http.settings import RetrySettings

AUDIENCE = "contexts-api"
SEARCH = DevClient("search", "s3cret", frozenset({"contexts:read", "contexts:index"}), AUDIENCE)


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def provider() -> Iterator[DevAuthorizationServer]:
    """A development authorization server with the `search` client, 300 s tokens."""
    with serve_authorization_server([SEARCH], audience="default-aud") as server:
        yield server


@pytest.fixture
async def http() -> AsyncIterator[ResilientClient]:
    """The client the token source talks to the authorization server with."""
    settings = HttpClientSettings(
        total_timeout=5.0,
        retry=RetrySettings(attempts=2, backoff_base=0.0, backoff_max=0.0, jitter=0.0),
    )
    async with ResilientClient(settings, name="auth-server", registry=CollectorRegistry()) as c:
        yield c


def _settings(provider: DevAuthorizationServer, **changes: object) -> ClientCredentialsSettings:
    fields: dict[str, object] = {
        "token_url": f"{provider.issuer}/token",
        "client_id": "search",
        "client_secret": "s3cret",
        "scope": ["contexts:read"],
    }
    fields.update(changes)
    return ClientCredentialsSettings.model_validate(fields)


async def test_a_token_is_fetched_verifies_and_is_cached(
    provider: DevAuthorizationServer, http: ResilientClient, registry: CollectorRegistry
) -> None:
    source = ClientCredentialsTokenSource(_settings(provider), http)
    token = await source.token()
    assert await source.token() == token
    assert provider.token_requests == 1
    verifier = build_authenticator(
        AuthSettings(issuer=provider.issuer, audience=AUDIENCE, discovery=True),
        environment=Environment.TEST,
        registry=registry,
    )
    await verifier.start()
    try:
        principal = await verifier.authenticate(token)
    finally:
        await verifier.stop()
    assert principal.subject == "search"
    assert principal.client_id == "search"
    assert principal.granted_scopes == frozenset({"contexts:read"})


async def test_fifty_concurrent_callers_cost_one_token_request(
    provider: DevAuthorizationServer, http: ResilientClient
) -> None:
    clock = Clock()
    source = ClientCredentialsTokenSource(_settings(provider), http, clock=clock)
    first = await asyncio.gather(*(source.token() for _ in range(50)))
    assert len(set(first)) == 1
    assert provider.token_requests == 1
    clock.now += 300 - 30  # within the refresh margin: everyone wants a new one at once
    second = await asyncio.gather(*(source.token() for _ in range(50)))
    assert len(set(second)) == 1
    assert second[0] != first[0]
    assert provider.token_requests == 2


async def test_a_cached_token_outlives_an_outage_until_it_expires(
    provider: DevAuthorizationServer, http: ResilientClient
) -> None:
    clock = Clock()
    settings = _settings(provider, retry_after_failure_seconds=5.0)
    source = ClientCredentialsTokenSource(settings, http, clock=clock)
    token = await source.token()
    provider.status = 503
    clock.now += 280  # past the margin, not expired
    assert await asyncio.gather(*(source.token() for _ in range(20))) == [token] * 20
    asked = provider.token_requests
    assert asked == 1 + 2  # one refresh attempt (two tries by the client), not twenty
    clock.now += 19  # one second left
    assert await source.token() == token
    clock.now += 1  # expired
    with pytest.raises(TokenUnavailableError, match="unavailable \\(503\\)"):
        await source.token()
    provider.status = 200
    clock.now += 5
    assert await source.token() != token


async def test_refusals_are_typed_oauth_errors(
    provider: DevAuthorizationServer, http: ResilientClient
) -> None:
    wrong = ClientCredentialsTokenSource(_settings(provider, client_secret=SecretStr("nope")), http)
    with pytest.raises(TokenRequestRefusedError) as refused:
        await wrong.token()
    assert (refused.value.error, refused.value.status) == ("invalid_client", 401)
    greedy = ClientCredentialsTokenSource(_settings(provider, scope=["contexts:admin"]), http)
    with pytest.raises(TokenRequestRefusedError) as refused:
        await greedy.token()
    assert (refused.value.error, refused.value.status) == ("invalid_scope", 400)


async def test_client_secret_post_discovery_and_resource(
    provider: DevAuthorizationServer, http: ResilientClient, registry: CollectorRegistry
) -> None:
    settings = _settings(
        provider,
        token_url=None,
        issuer=provider.issuer,
        auth_method="client_secret_post",
        resource="https://contexts.example.com/",
    )
    source = ClientCredentialsTokenSource(settings, http)
    token = await source.token()
    verifier = build_authenticator(
        AuthSettings(
            issuer=provider.issuer,
            audience="unused",
            resource="https://contexts.example.com/",
            discovery=True,
        ),
        environment=Environment.TEST,
        registry=registry,
    )
    await verifier.start()
    try:
        assert (await verifier.authenticate(token)).subject == "search"
    finally:
        await verifier.stop()


def test_settings_need_exactly_one_endpoint() -> None:
    with pytest.raises(ValueError, match="not both"):
        ClientCredentialsSettings(client_id="a", client_secret=SecretStr("b"))
    with pytest.raises(ValueError, match="not both"):
        ClientCredentialsSettings(
            client_id="a",
            client_secret=SecretStr("b"),
            token_url="https://a/t",  # noqa: S106 - a URL, not a password
            issuer="https://a",
        )


class Upstream:
    """An API that refuses tokens it has revoked (401) and records what it was sent."""

    def __init__(self) -> None:
        self.revoked: set[str] = set()
        self.refuse_all = False
        self.seen: list[str] = []
        self.app = Starlette(routes=[Route("/data", self.data, methods=["GET", "POST"])])

    async def data(self, request: Request) -> Response:
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        self.seen.append(token)
        if not token or token in self.revoked or self.refuse_all:
            return JSONResponse({"error": "invalid_token"}, status_code=401)
        return JSONResponse({"body": (await request.body()).decode()})


async def test_bearer_auth_refreshes_once_after_a_401(
    provider: DevAuthorizationServer, http: ResilientClient
) -> None:
    source = ClientCredentialsTokenSource(_settings(provider), http)
    upstream = Upstream()
    api = ResilientClient(
        HttpClientSettings(base_url="http://api.test"),
        registry=CollectorRegistry(),
        transport=httpx.ASGITransport(app=upstream.app),
        auth=BearerTokenAuth(source),
    )
    async with api:
        first = await api.get("/data")
        assert first.status_code == 200
        old = upstream.seen[-1]
        assert old == await source.token()
        upstream.revoked.add(old)  # e.g. signed with a key the upstream no longer trusts
        answered = await api.post("/data", content=b"payload")
        assert answered.json() == {"body": "payload"}  # the retry re-sent the body
        assert upstream.seen[-2:] == [old, await source.token()]
        assert upstream.seen[-1] != old
        assert provider.token_requests == 2
        upstream.refuse_all = True  # a fresh token refused too: no loop, that 401 is final
        with pytest.raises(UpstreamStatusError) as refused:
            await api.get("/data")
        assert refused.value.status == 401
    assert provider.token_requests == 3
    assert len(upstream.seen) == 5


async def test_per_request_auth_overrides_the_clients(
    provider: DevAuthorizationServer, http: ResilientClient
) -> None:
    source = ClientCredentialsTokenSource(_settings(provider), http)
    upstream = Upstream()
    settings = HttpClientSettings(base_url="http://api.test", raise_for_status=False)
    api = ResilientClient(
        settings, registry=CollectorRegistry(), transport=httpx.ASGITransport(app=upstream.app)
    )
    async with api:
        assert (await api.get("/data")).status_code == 401  # no auth of its own
        assert (await api.get("/data", auth=BearerTokenAuth(source))).status_code == 200
        assert upstream.seen == ["", await source.token()]
