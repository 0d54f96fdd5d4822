"""The issuer's signing keys (JWKS): fetched at start-up, cached, refreshed in the background.

A token whose `kid` is not cached triggers a fetch (key rotation), at most once per
`min_refresh_interval_seconds`, so a flood of made-up kids cannot hammer the issuer.
"""

import asyncio
import json
import logging
import time
from collections.abc import Callable, Collection, Mapping
from contextlib import suppress
from typing import Any

import httpx
from jwt import PyJWK
from jwt.exceptions import PyJWKError
from prometheus_client import CollectorRegistry

from slipway.auth.discovery import DiscoveryError, parse_provider_metadata
from slipway.auth.metrics import auth_metrics

logger = logging.getLogger("slipway.auth")

MAX_JWKS_BYTES = 1024 * 1024
MAX_METADATA_BYTES = 256 * 1024

# The algorithm a key without an `alg` member is used with, by key type (and curve).
_DEFAULT_ALGORITHM: dict[tuple[object, object], str] = {
    ("RSA", None): "RS256",
    ("EC", "P-256"): "ES256",
}


class JwksUnavailableError(Exception):
    """The key set could not be fetched or held no usable key."""


def parse_jwks(
    document: Any,
    allowed_algorithms: Collection[str],
    previous: Mapping[str, PyJWK] | None = None,
) -> dict[str, PyJWK]:
    """Usable signing keys by kid; each bound to one algorithm from `allowed_algorithms`.

    Keys without a kid, meant for encryption, of an unknown type, or whose algorithm is not
    allowed are skipped, so an `oct` key or an RS/HS mix-up can never verify a token.
    A key of `previous` whose JWK and algorithm are unchanged is kept as the same object, so
    "is this still the key" is an identity check (the verified-token cache relies on it).
    """
    previous = previous or {}
    if not isinstance(document, Mapping) or not isinstance(document.get("keys"), list):
        raise JwksUnavailableError("not a JWK set: no 'keys' list")
    keys: dict[str, PyJWK] = {}
    for jwk in document["keys"]:
        if not isinstance(jwk, Mapping):
            continue
        kid, use = jwk.get("kid"), jwk.get("use", "sig")
        kty, crv = jwk.get("kty"), jwk.get("crv")
        algorithm = jwk.get("alg") or _DEFAULT_ALGORITHM.get((kty, crv if kty == "EC" else None))
        if not isinstance(kid, str) or use != "sig" or algorithm not in allowed_algorithms:
            logger.info("skipping JWK kid=%r kty=%r alg=%r", kid, kty, algorithm)
            continue
        held = previous.get(kid)
        if held is not None and held.algorithm_name == algorithm and _jwk_of(held) == jwk:
            keys[kid] = held
            continue
        try:
            keys[kid] = PyJWK(dict(jwk), algorithm=algorithm)
        except PyJWKError as exc:
            logger.warning("skipping unusable JWK kid=%r: %s", kid, exc)
    if not keys:
        raise JwksUnavailableError("the key set holds no usable signing key")
    return keys


def _jwk_of(key: PyJWK) -> Any:
    """The JWK members a key was built from (PyJWK keeps them, without a public accessor)."""
    return getattr(key, "_jwk_data", None)


class JwksCache:
    """Signing keys from a JWKS URL: a slipway.web `Resource` and `ReadinessCheck` in one.

    `start()` fetches once but does not fail start-up when the issuer is down: readiness
    fails until a fetch succeeds, retried every `min_refresh_interval_seconds`.
    Afterwards the keys are fetched again every `refresh_interval_seconds`; a failed fetch
    keeps the keys already held, so an issuer outage does not take services down with it.

    With `discovery_url` (and `issuer`) instead of `url`, the JWKS URL is the `jwks_uri` of
    the provider metadata (OIDC Discovery / RFC 8414), resolved at the first fetch, retried
    like a failed fetch while it cannot be, and resolved again after
    `rediscover_after_failures` failed key-set fetches in a row (the provider moved it).
    """

    name = "auth-jwks"

    def __init__(
        self,
        url: str | None = None,
        *,
        algorithms: Collection[str],
        discovery_url: str | None = None,
        issuer: str | None = None,
        require_https: bool = False,
        rediscover_after_failures: int = 3,
        refresh_interval_seconds: float = 300.0,
        min_refresh_interval_seconds: float = 30.0,
        timeout_seconds: float = 5.0,
        registry: CollectorRegistry | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if (url is None) == (discovery_url is None):
            raise ValueError("give a JWKS url or a discovery_url, not both or neither")
        if discovery_url is not None and issuer is None:
            raise ValueError("discovery_url needs the issuer the metadata must name")
        self.url = url
        self.discovery_url = discovery_url
        self.issuer = issuer
        self.require_https = require_https
        self.rediscover_after_failures = max(1, rediscover_after_failures)
        self.algorithms = frozenset(algorithms)
        self.refresh_interval_seconds = refresh_interval_seconds
        self.min_refresh_interval_seconds = min_refresh_interval_seconds
        self.timeout_seconds = timeout_seconds
        self._metrics = auth_metrics(registry)
        self._clock = clock
        self._keys: dict[str, PyJWK] = {}
        self._last_attempt: float | None = None
        self._last_error: str | None = None
        self._failures = 0  # key-set fetches failed in a row
        self._lock = asyncio.Lock()
        self._client: httpx.AsyncClient | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def kids(self) -> frozenset[str]:
        """The kids of the keys held now."""
        return frozenset(self._keys)

    async def start(self) -> None:
        """Open the HTTP client, fetch the keys once, and start refreshing in the background."""
        self._client = httpx.AsyncClient(
            timeout=self.timeout_seconds,
            follow_redirects=False,
            headers={"Accept": "application/jwk-set+json, application/json"},
        )
        await self.refresh(trigger="startup")
        self._task = asyncio.create_task(self._refresh_periodically(), name="auth-jwks-refresh")

    async def stop(self) -> None:
        """Cancel the background refresh and close the HTTP client."""
        if self._task is not None:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def __call__(self) -> None:
        """Readiness: fails while no key set has ever been fetched, naming the last failure."""
        if not self._keys:
            source = self.url or f"the jwks_uri discovered at {self.discovery_url}"
            reason = f": {self._last_error}" if self._last_error else ""
            raise JwksUnavailableError(f"no signing keys fetched yet from {source}{reason}")

    def held_key(self, kid: str) -> PyJWK | None:
        """The key with this kid held now, without fetching."""
        return self._keys.get(kid)

    async def key_for(self, kid: str) -> PyJWK | None:
        """The key with this kid; an unknown kid refreshes the set unless one did recently."""
        key = self._keys.get(kid)
        if key is not None:
            return key
        async with self._lock:
            key = self._keys.get(kid)  # fetched while this caller waited for the lock
            if key is None and self._may_fetch_now():
                await self._refresh_locked(trigger="unknown_kid")
                key = self._keys.get(kid)
        return key

    async def refresh(self, *, trigger: str = "manual") -> bool:
        """Fetch the key set now; True when it succeeded (on failure the old keys stay)."""
        async with self._lock:
            return await self._refresh_locked(trigger=trigger)

    def _may_fetch_now(self) -> bool:
        return (
            self._last_attempt is None
            or self._clock() - self._last_attempt >= self.min_refresh_interval_seconds
        )

    async def _refresh_locked(self, *, trigger: str) -> bool:
        self._last_attempt = self._clock()
        if self.discovery_url is not None and (
            self.url is None or self._failures >= self.rediscover_after_failures
        ):
            try:
                self.url = await self._discover(self.discovery_url)
            except (httpx.HTTPError, DiscoveryError, JwksUnavailableError, ValueError) as exc:
                self._metrics.jwks_fetches.labels(trigger=trigger, outcome="discovery_error").inc()
                self._last_error = f"OIDC discovery at {self.discovery_url} failed: {exc}"
                logger.warning("%s (%s)", self._last_error, trigger)
                if self.url is None:
                    return False
                # a known jwks_uri is still worth trying while the metadata is unavailable
        url = self.url
        assert url is not None  # noqa: S101 - set above, or given
        try:
            keys = parse_jwks(await self._fetch(url), self.algorithms, previous=self._keys)
        except (httpx.HTTPError, JwksUnavailableError, ValueError) as exc:
            self._failures += 1
            self._metrics.jwks_fetches.labels(trigger=trigger, outcome="error").inc()
            self._last_error = f"fetching {url} failed: {exc}"
            logger.warning("fetching the JWKS from %s failed (%s): %s", url, trigger, exc)
            return False
        self._keys = keys
        self._failures = 0
        self._last_error = None
        self._metrics.jwks_fetches.labels(trigger=trigger, outcome="ok").inc()
        self._metrics.jwks_keys.set(len(keys))
        return True

    async def _discover(self, discovery_url: str) -> str:
        document = await self._get_json(discovery_url, MAX_METADATA_BYTES)
        metadata = parse_provider_metadata(
            document,
            issuer=self.issuer or "",
            url=discovery_url,
            require_https=self.require_https,
            require=("jwks_uri",),
        )
        if metadata.jwks_uri != self.url:
            logger.info("discovered jwks_uri %s from %s", metadata.jwks_uri, discovery_url)
        assert metadata.jwks_uri is not None  # noqa: S101 - required above
        return metadata.jwks_uri

    async def _fetch(self, url: str) -> Any:
        return await self._get_json(url, MAX_JWKS_BYTES)

    async def _get_json(self, url: str, limit: int) -> Any:
        if self._client is None:
            raise JwksUnavailableError("the JWKS cache is not started")
        async with self._client.stream("GET", url) as response:
            response.raise_for_status()
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > limit:
                    raise JwksUnavailableError(f"{url}: document larger than {limit} bytes")
        return json.loads(body)

    async def _refresh_periodically(self) -> None:
        while True:
            delay = self.refresh_interval_seconds
            if not self._keys:  # still nothing: retry sooner, but not in a tight loop
                delay = min(delay, max(self.min_refresh_interval_seconds, 1.0))
            await asyncio.sleep(delay)
            await self.refresh(trigger="scheduled")
