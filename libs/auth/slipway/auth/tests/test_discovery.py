"""OIDC discovery for verifiers: jwks_uri from the issuer's metadata, validated by authlib."""

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from slipway.auth import (
    AuthSettings,
    AuthSettingsError,
    DiscoveryError,
    InvalidTokenError,
    JwksCache,
    JwksUnavailableError,
    build_authenticator,
    discovery_url_for,
    parse_provider_metadata,
)
from slipway.auth.testing import (
    DevAuthorizationServer,
    jwks_document,
    serve_authorization_server,
    serve_jwks,
)
from slipway.config import Environment

AUDIENCE = "contexts-api"


async def _eventually(condition: Callable[[], bool], timeout_seconds: float = 5.0) -> None:
    for _ in range(int(timeout_seconds / 0.01)):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the condition did not become true in time")


@pytest.fixture
def provider() -> Iterator[DevAuthorizationServer]:
    """A development authorization server of this test's own."""
    with serve_authorization_server(audience=AUDIENCE) as server:
        yield server


def test_the_discovery_url_follows_oidc_discovery_section_4() -> None:
    assert (
        discovery_url_for("https://kc.example.com/realms/shop")
        == "https://kc.example.com/realms/shop/.well-known/openid-configuration"
    )
    assert (
        discovery_url_for("https://tenant.auth0.com/")
        == "https://tenant.auth0.com/.well-known/openid-configuration"
    )


def test_issuer_and_discovery_are_enough_settings() -> None:
    settings = AuthSettings(
        issuer="https://auth.example.com/", audience=AUDIENCE, discovery=True, algorithms=("RS256",)
    )
    assert settings.effective_discovery_url == (
        "https://auth.example.com/.well-known/openid-configuration"
    )
    build_authenticator(settings, environment=Environment.PRODUCTION)
    with pytest.raises(ValueError, match="not both"):
        AuthSettings(
            issuer="https://a.example/", audience=AUDIENCE, discovery=True, jwks_url="https://a/j"
        )
    with pytest.raises(ValueError, match=r"jwks_url is required .*\(or discovery=true\)"):
        AuthSettings(issuer="https://a.example/", audience=AUDIENCE)
    plain = AuthSettings(issuer="http://a.example", audience=AUDIENCE, discovery=True)
    with pytest.raises(AuthSettingsError, match="https"):
        build_authenticator(plain, environment=Environment.PRODUCTION)


def _document(**changes: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "issuer": "https://auth.example.com",
        "token_endpoint": "https://auth.example.com/token",
        "jwks_uri": "https://auth.example.com/jwks",
        "grant_types_supported": ["client_credentials"],
        "response_types_supported": ["token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
    }
    document.update(changes)
    return {name: value for name, value in document.items() if value is not None}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"issuer": "https://evil.example.com"}, "not the configured"),
        ({"issuer": "https://auth.example.com/"}, "equal exactly"),  # one slash is a mix-up too
        ({"jwks_uri": None}, "jwks_uri"),
        ({"jwks_uri": "http://auth.example.com/jwks"}, "https"),  # authlib's own rule
        ({"response_types_supported": None}, "response_types_supported"),
        ({"grant_types_supported": ["authorization_code"]}, "authorization_endpoint"),
    ],
)
def test_invalid_metadata_is_refused(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(DiscoveryError, match=message):
        parse_provider_metadata(
            _document(**changes),
            issuer="https://auth.example.com",
            url="https://auth.example.com/.well-known/openid-configuration",
            require_https=True,
            require=("jwks_uri",),
        )


def test_production_wants_https_even_on_loopback() -> None:
    local = _document(
        issuer="http://127.0.0.1:9400",
        jwks_uri="http://127.0.0.1:9400/jwks",
        token_endpoint="http://127.0.0.1:9400/token",  # noqa: S106 - a URL
    )
    url = "http://127.0.0.1:9400/.well-known/openid-configuration"
    found = parse_provider_metadata(local, issuer=local["issuer"], url=url, require_https=False)
    assert found.jwks_uri == "http://127.0.0.1:9400/jwks"
    with pytest.raises(DiscoveryError, match="not https"):
        parse_provider_metadata(local, issuer=local["issuer"], url=url, require_https=True)


async def test_a_verifier_finds_its_keys_by_discovery(
    provider: DevAuthorizationServer, registry: CollectorRegistry
) -> None:
    settings = AuthSettings(
        issuer=provider.issuer, audience=AUDIENCE, discovery=True, algorithms=("RS256",)
    )
    authenticator = build_authenticator(settings, environment=Environment.TEST, registry=registry)
    await authenticator.start()
    try:
        await authenticator()  # ready
        jwks = authenticator.verifier.jwks
        assert jwks is not None
        assert jwks.url == f"{provider.issuer}/jwks"
        token = provider.issue("svc", audience=AUDIENCE, scopes=["contexts:read"])
        principal = await authenticator.authenticate(token)
        assert principal.subject == "svc"
        assert principal.scopes >= {"contexts:read"}
    finally:
        await authenticator.stop()


async def test_an_issuer_mismatch_keeps_readiness_failing_and_named(
    provider: DevAuthorizationServer, registry: CollectorRegistry
) -> None:
    settings = AuthSettings(issuer=provider.issuer + "/", audience=AUDIENCE, discovery=True)
    authenticator = build_authenticator(settings, environment=Environment.TEST, registry=registry)
    await authenticator.start()
    try:
        with pytest.raises(JwksUnavailableError, match=r"OIDC discovery at .* not the configured"):
            await authenticator()
        with pytest.raises(InvalidTokenError):
            await authenticator.authenticate(provider.issue("svc", audience=AUDIENCE))
    finally:
        await authenticator.stop()


async def test_a_provider_down_at_start_is_retried_until_discovered(
    provider: DevAuthorizationServer, registry: CollectorRegistry
) -> None:
    provider.status = 503
    cache = JwksCache(
        discovery_url=discovery_url_for(provider.issuer),
        issuer=provider.issuer,
        algorithms={"RS256"},
        refresh_interval_seconds=0.02,
        min_refresh_interval_seconds=0.0,
        registry=registry,
    )
    await cache.start()  # does not raise
    try:
        with pytest.raises(JwksUnavailableError, match=r"OIDC discovery at .*503"):
            await cache()
        assert registry.get_sample_value(
            "auth_jwks_fetches_total", {"trigger": "startup", "outcome": "discovery_error"}
        )
        provider.status = 200
        await _eventually(lambda: bool(cache.kids))
        await cache()
        assert cache.kids == {provider.current.kid, provider.next.kid}
    finally:
        await cache.stop()


class MovingProvider(DevAuthorizationServer):
    """A provider whose metadata can point jwks_uri elsewhere."""

    jwks_uri: str | None = None

    def metadata(self) -> dict[str, Any]:
        document = super().metadata()
        if self.jwks_uri is not None:
            document["jwks_uri"] = self.jwks_uri
        return document


async def test_the_jwks_uri_is_discovered_again_when_fetches_keep_failing(
    registry: CollectorRegistry,
) -> None:
    with serve_authorization_server(audience=AUDIENCE, server_class=MovingProvider) as served:
        assert isinstance(served, MovingProvider)
        with (
            serve_jwks(jwks_document(served.current)) as old,
            serve_jwks(jwks_document(served.current, served.next)) as new,
        ):
            served.jwks_uri = old.url
            cache = JwksCache(
                discovery_url=discovery_url_for(served.issuer),
                issuer=served.issuer,
                algorithms={"RS256"},
                rediscover_after_failures=2,
                registry=registry,
            )
            await cache.start()
            try:
                assert cache.url == old.url
                old.status = 404  # the provider moved its keys
                served.jwks_uri = new.url
                assert not await cache.refresh()
                assert not await cache.refresh()  # one failure so far: the old URL again
                assert cache.url == old.url
                assert await cache.refresh()  # two in a row: discovered again, fetched there
                assert cache.url == new.url
                assert cache.kids == {served.current.kid, served.next.kid}
            finally:
                await cache.stop()
