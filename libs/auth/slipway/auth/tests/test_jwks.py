"""The key-set cache: fetched over real HTTP, rotated, rate-limited, resilient to outages."""

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from slipway.auth import JwksCache, JwksUnavailableError
from slipway.auth.jwks import parse_jwks
from slipway.auth.testing import JwksServer, generate_signing_key, jwks_document, serve_jwks
from slipway.auth.tests.conftest import Keys


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def _eventually(condition: Callable[[], bool], timeout_seconds: float = 5.0) -> None:
    for _ in range(int(timeout_seconds / 0.01)):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the condition did not become true in time")


@pytest.fixture
def issuer(keys: Keys) -> Iterator[JwksServer]:
    """A JWKS server of this test's own, free to change its keys or fail."""
    with serve_jwks(jwks_document(keys.rsa)) as server:
        yield server


def _cache(server: JwksServer, registry: CollectorRegistry, **kwargs: Any) -> JwksCache:
    return JwksCache(server.url, algorithms={"RS256", "ES256"}, registry=registry, **kwargs)


def test_parse_keeps_only_signing_keys_of_allowed_algorithms(keys: Keys) -> None:
    p384 = generate_signing_key("ES256", kid="p384").public_jwk | {"crv": "P-384", "alg": None}
    document = jwks_document(keys.rsa, keys.ec)
    document["keys"] += [
        {"kty": "oct", "kid": "shared", "k": "c2VjcmV0"},  # a shared secret: never
        {**keys.rsa.public_jwk, "kid": "enc", "use": "enc"},
        {**keys.rsa.public_jwk, "kid": "as-hs", "alg": "HS256"},
        {key: value for key, value in keys.ec.public_jwk.items() if key != "kid"},
        {**p384, "kid": "p384"},
        "not a key",
    ]
    parsed = parse_jwks(document, {"RS256", "ES256"})
    assert {kid: key.algorithm_name for kid, key in parsed.items()} == {
        "rsa-1": "RS256",
        "ec-1": "ES256",
    }
    assert set(parse_jwks(document, {"ES256"})) == {"ec-1"}
    with pytest.raises(JwksUnavailableError):
        parse_jwks({"keys": [{"kty": "oct", "kid": "x", "k": "c2VjcmV0"}]}, {"RS256"})
    with pytest.raises(JwksUnavailableError):
        parse_jwks(["no", "keys"], {"RS256"})


async def test_rotation_fetches_a_new_kid_at_most_once_per_interval(
    issuer: JwksServer, keys: Keys, registry: CollectorRegistry
) -> None:
    clock = FakeClock()
    cache = _cache(issuer, registry, min_refresh_interval_seconds=30, clock=clock)
    await cache.start()
    try:
        assert issuer.requests == 1
        assert cache.kids == {"rsa-1"}
        issuer.document = jwks_document(keys.rsa, keys.ec)  # the issuer rotates in a key
        assert await cache.key_for("ec-1") is None  # fetched at start-up just now: no refetch
        assert issuer.requests == 1
        clock.now += 30
        found = await cache.key_for("ec-1")
        assert found is not None
        assert found.algorithm_name == "ES256"
        assert issuer.requests == 2
        assert registry.get_sample_value(
            "auth_jwks_fetches_total", {"trigger": "unknown_kid", "outcome": "ok"}
        )
    finally:
        await cache.stop()


async def test_a_flood_of_unknown_kids_costs_one_fetch(
    issuer: JwksServer, registry: CollectorRegistry
) -> None:
    clock = FakeClock()
    cache = _cache(issuer, registry, min_refresh_interval_seconds=30, clock=clock)
    await cache.start()
    try:
        clock.now += 60
        found = await asyncio.gather(*(cache.key_for(f"made-up-{n}") for n in range(200)))
        assert found == [None] * 200
        assert issuer.requests == 2  # start-up, then one for the whole flood
        assert cache.kids == {"rsa-1"}
    finally:
        await cache.stop()


async def test_issuer_down_at_start_up_is_not_fatal_and_recovers(
    issuer: JwksServer, registry: CollectorRegistry
) -> None:
    issuer.status = 503
    cache = _cache(issuer, registry, refresh_interval_seconds=0.02)
    await cache.start()  # does not raise
    try:
        with pytest.raises(JwksUnavailableError, match="no signing keys"):
            await cache()
        issuer.status = 200
        await _eventually(lambda: bool(cache.kids))
        await cache()  # ready now
        assert registry.get_sample_value("auth_jwks_keys") == 1
    finally:
        await cache.stop()


async def test_a_failed_refresh_keeps_the_keys_and_stop_ends_refreshing(
    issuer: JwksServer, registry: CollectorRegistry
) -> None:
    cache = _cache(issuer, registry, refresh_interval_seconds=0.02)
    await cache.start()
    issuer.status = 500
    await _eventually(lambda: issuer.requests >= 3)  # the background task keeps asking
    assert cache.kids == {"rsa-1"}
    await cache()
    assert not await cache.refresh()
    await cache.stop()
    asked = issuer.requests
    await asyncio.sleep(0.1)
    assert issuer.requests == asked


async def test_an_oversized_or_invalid_key_set_is_refused(
    issuer: JwksServer, registry: CollectorRegistry
) -> None:
    cache = _cache(issuer, registry)
    await cache.start()
    try:
        issuer.document = {"keys": [], "padding": "x" * (1024 * 1024)}
        assert not await cache.refresh()
        issuer.document = {"keys": "nope"}
        assert not await cache.refresh()
        assert cache.kids == {"rsa-1"}
    finally:
        await cache.stop()
