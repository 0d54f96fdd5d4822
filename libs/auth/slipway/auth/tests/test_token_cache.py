"""The verified-token cache: a token is verified once, reused only while it is still good."""

import asyncio
import time
from collections.abc import Callable, Iterator
from typing import Any

import jwt
import pytest
from prometheus_client import CollectorRegistry
from pydantic import SecretStr

from slipway.auth import (
    AuthSettings,
    InvalidTokenError,
    JwksCache,
    TokenVerifier,
    build_authenticator,
)
from slipway.auth.testing import (
    JwksServer,
    hs256_signing_key,
    jwks_document,
    mint_token,
    serve_jwks,
)
from slipway.auth.tests.conftest import AUDIENCE, ISSUER, Keys
from slipway.config import Environment

SECRET = "a-development-secret-of-32-bytes-or-more"  # noqa: S105 - a test key


class FakeClock:
    """Wall-clock time that only moves when a test says so."""

    def __init__(self) -> None:
        self.now = float(int(time.time()))  # whole seconds, as tokens' NumericDates are

    def __call__(self) -> float:
        return self.now


class DecodeSpy:
    """Counts signature verifications: every call of `jwt.decode`, which still does the work."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls = 0
        real: Callable[..., Any] = jwt.decode

        def counting(*args: Any, **kwargs: Any) -> Any:
            self.calls += 1
            return real(*args, **kwargs)

        monkeypatch.setattr(jwt, "decode", counting)


@pytest.fixture
def decodes(monkeypatch: pytest.MonkeyPatch) -> DecodeSpy:
    return DecodeSpy(monkeypatch)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def _hs256_verifier(registry: CollectorRegistry, clock: FakeClock, **kwargs: Any) -> TokenVerifier:
    return TokenVerifier(
        issuer=ISSUER,
        audience=kwargs.pop("audience", AUDIENCE),
        hs256_secret=SECRET,
        registry=registry,
        clock=clock,
        **kwargs,
    )


def _hs256_token(**kwargs: Any) -> str:
    return mint_token(
        hs256_signing_key(SECRET), issuer=ISSUER, audience=AUDIENCE, scopes=["a:read"], **kwargs
    )


def _lookups(registry: CollectorRegistry, outcome: str) -> float:
    value = registry.get_sample_value("auth_token_cache_lookups_total", {"outcome": outcome})
    return value or 0.0


async def test_a_cached_token_is_not_verified_again(
    registry: CollectorRegistry, clock: FakeClock, decodes: DecodeSpy
) -> None:
    verifier = _hs256_verifier(registry, clock)
    token = _hs256_token(subject="alice")
    first = await verifier.verify(token)
    second = await verifier.verify(token)
    assert second is first
    assert second.subject == "alice"
    assert second.scopes == {"a:read"}
    assert decodes.calls == 1
    assert (_lookups(registry, "miss"), _lookups(registry, "hit")) == (1, 1)


async def test_a_jwks_token_is_cached_and_a_token_differing_by_one_byte_is_a_miss(
    jwks_server: JwksServer, keys: Keys, registry: CollectorRegistry, decodes: DecodeSpy
) -> None:
    jwks = JwksCache(jwks_server.url, algorithms={"RS256", "ES256"}, registry=registry)
    verifier = TokenVerifier(issuer=ISSUER, audience=AUDIENCE, jwks=jwks, registry=registry)
    await jwks.start()
    try:
        token = mint_token(keys.rsa, issuer=ISSUER, audience=AUDIENCE, subject="bob")
        assert (await verifier.verify(token)).subject == "bob"
        assert (await verifier.verify(token)).subject == "bob"
        assert decodes.calls == 1
        header, payload, signature = token.split(".")
        flipped = "A" if payload[5] != "A" else "B"
        tampered = f"{header}.{payload[:5]}{flipped}{payload[6:]}.{signature}"
        with pytest.raises(InvalidTokenError):
            await verifier.verify(tampered)
        assert decodes.calls == 2
        assert _lookups(registry, "miss") == 2
    finally:
        await jwks.stop()


async def test_an_expired_token_is_refused_though_cached(
    registry: CollectorRegistry, decodes: DecodeSpy
) -> None:
    verifier = TokenVerifier(
        issuer=ISSUER, audience=AUDIENCE, hs256_secret=SECRET, leeway_seconds=0, registry=registry
    )
    expires = int(time.time()) + 1
    token = _hs256_token(issued_at=expires - 60, expires_in=60)
    await verifier.verify(token)
    await verifier.verify(token)
    assert decodes.calls == 1
    await asyncio.sleep(max(0.0, expires - time.time()) + 0.05)
    with pytest.raises(InvalidTokenError) as refused:
        await verifier.verify(token)
    assert refused.value.reason == "expired"
    assert registry.get_sample_value("auth_token_rejections_total", {"reason": "expired"}) == 1
    assert _lookups(registry, "stale") == 1
    assert verifier.cache is not None
    assert len(verifier.cache) == 0


async def test_a_hit_checks_exp_nbf_and_iat_against_the_clock_each_time(
    registry: CollectorRegistry, clock: FakeClock, decodes: DecodeSpy
) -> None:
    verifier = _hs256_verifier(registry, clock, leeway_seconds=30, cache_max_age_seconds=3600)
    token = _hs256_token(issued_at=clock.now, expires_in=300, not_before=clock.now)
    await verifier.verify(token)
    clock.now += 300 + 29  # within the leeway after exp: still a hit
    await verifier.verify(token)
    assert decodes.calls == 1
    clock.now += 1  # exp <= now - leeway: not a hit, verified again (still valid in real time)
    await verifier.verify(token)
    assert decodes.calls == 2
    assert _lookups(registry, "stale") == 1
    clock.now -= 330 + 31  # set back before nbf (and iat) - leeway: not a hit either
    await verifier.verify(token)
    assert decodes.calls == 3
    assert _lookups(registry, "stale") == 2


async def test_an_entry_is_reused_for_at_most_max_age(
    registry: CollectorRegistry, clock: FakeClock, decodes: DecodeSpy
) -> None:
    verifier = _hs256_verifier(registry, clock, cache_max_age_seconds=60)
    token = _hs256_token(expires_in=3600)
    await verifier.verify(token)
    clock.now += 59.9
    await verifier.verify(token)
    assert decodes.calls == 1
    clock.now += 0.1
    await verifier.verify(token)
    assert decodes.calls == 2
    await verifier.verify(token)  # cached again, for another max age
    assert decodes.calls == 2


async def test_the_cache_keeps_the_most_recently_used_entries_only(
    registry: CollectorRegistry, clock: FakeClock, decodes: DecodeSpy
) -> None:
    verifier = _hs256_verifier(registry, clock, cache_max_entries=2)
    first, second, third = (_hs256_token(subject=f"user-{n}") for n in range(3))
    await verifier.verify(first)
    await verifier.verify(second)
    await verifier.verify(first)  # first is now the most recently used
    await verifier.verify(third)  # evicts second
    assert verifier.cache is not None
    assert len(verifier.cache) == 2
    assert decodes.calls == 3
    await verifier.verify(first)
    await verifier.verify(third)
    assert decodes.calls == 3
    await verifier.verify(second)
    assert decodes.calls == 4


async def test_refused_tokens_are_not_cached(
    registry: CollectorRegistry, clock: FakeClock, decodes: DecodeSpy
) -> None:
    verifier = _hs256_verifier(registry, clock)
    forged = mint_token(
        hs256_signing_key("another-secret-of-at-least-32-bytes!"), issuer=ISSUER, audience=AUDIENCE
    )
    for _ in range(3):
        with pytest.raises(InvalidTokenError):
            await verifier.verify(forged)
    assert decodes.calls == 3
    assert (
        registry.get_sample_value("auth_token_rejections_total", {"reason": "bad_signature"}) == 3
    )
    assert verifier.cache is not None
    assert len(verifier.cache) == 0


async def test_a_verifier_for_another_audience_does_not_reuse_the_result(
    registry: CollectorRegistry, clock: FakeClock
) -> None:
    ours = _hs256_verifier(registry, clock)
    theirs = _hs256_verifier(registry, clock, audience="another-api")
    token = _hs256_token()
    await ours.verify(token)
    with pytest.raises(InvalidTokenError) as refused:
        await theirs.verify(token)
    assert refused.value.reason == "wrong_audience"


@pytest.fixture
def issuer(keys: Keys) -> Iterator[JwksServer]:
    """A JWKS server of this test's own, free to rotate its keys."""
    with serve_jwks(jwks_document(keys.rsa, keys.ec)) as server:
        yield server


async def test_a_key_rotated_out_of_the_jwks_ends_its_cached_tokens(
    issuer: JwksServer, keys: Keys, registry: CollectorRegistry, decodes: DecodeSpy
) -> None:
    jwks = JwksCache(issuer.url, algorithms={"RS256", "ES256"}, registry=registry)
    verifier = TokenVerifier(issuer=ISSUER, audience=AUDIENCE, jwks=jwks, registry=registry)
    await jwks.start()
    try:
        rsa_token = mint_token(keys.rsa, issuer=ISSUER, audience=AUDIENCE)
        ec_token = mint_token(keys.ec, issuer=ISSUER, audience=AUDIENCE)
        await verifier.verify(rsa_token)
        await verifier.verify(ec_token)
        assert await jwks.refresh()  # the same key set again: the cached results stand
        await verifier.verify(rsa_token)
        await verifier.verify(ec_token)
        assert decodes.calls == 2
        issuer.document = jwks_document(keys.ec)  # the issuer drops the RSA key
        assert await jwks.refresh()
        with pytest.raises(InvalidTokenError) as refused:
            await verifier.verify(rsa_token)
        assert refused.value.reason == "unknown_kid"
        await verifier.verify(ec_token)
        assert decodes.calls == 2
        assert _lookups(registry, "stale") == 1
    finally:
        await jwks.stop()


def test_the_cache_is_configured_by_settings_and_zero_turns_it_off(
    registry: CollectorRegistry,
) -> None:
    settings = AuthSettings(
        issuer=ISSUER, audience=AUDIENCE, algorithms=("HS256",), hs256_secret=SecretStr(SECRET)
    )
    assert (settings.token_cache_max_entries, settings.token_cache_max_age_seconds) == (4096, 60)
    cache = build_authenticator(settings, environment=Environment.TEST).verifier.cache
    assert cache is not None
    assert (cache.max_entries, cache.max_age_seconds) == (4096, 60)
    off = settings.model_copy(update={"token_cache_max_entries": 0})
    assert build_authenticator(off, environment=Environment.TEST).verifier.cache is None


async def test_with_the_cache_off_every_call_verifies(
    registry: CollectorRegistry, clock: FakeClock, decodes: DecodeSpy
) -> None:
    verifier = _hs256_verifier(registry, clock, cache_max_age_seconds=0)
    token = _hs256_token()
    await verifier.verify(token)
    await verifier.verify(token)
    assert decodes.calls == 2
