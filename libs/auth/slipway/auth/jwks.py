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

from slipway.auth.metrics import auth_metrics

logger = logging.getLogger("slipway.auth")

MAX_JWKS_BYTES = 1024 * 1024

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
    """

    name = "auth-jwks"

    def __init__(
        self,
        url: str,
        *,
        algorithms: Collection[str],
        refresh_interval_seconds: float = 300.0,
        min_refresh_interval_seconds: float = 30.0,
        timeout_seconds: float = 5.0,
        registry: CollectorRegistry | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = url
        self.algorithms = frozenset(algorithms)
        self.refresh_interval_seconds = refresh_interval_seconds
        self.min_refresh_interval_seconds = min_refresh_interval_seconds
        self.timeout_seconds = timeout_seconds
        self._metrics = auth_metrics(registry)
        self._clock = clock
        self._keys: dict[str, PyJWK] = {}
        self._last_attempt: float | None = None
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
        """Readiness: fails while no key set has ever been fetched."""
        if not self._keys:
            raise JwksUnavailableError(f"no signing keys fetched yet from {self.url}")

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
        try:
            keys = parse_jwks(await self._fetch(), self.algorithms, previous=self._keys)
        except (httpx.HTTPError, JwksUnavailableError, ValueError) as exc:
            self._metrics.jwks_fetches.labels(trigger=trigger, outcome="error").inc()
            logger.warning("fetching the JWKS from %s failed (%s): %s", self.url, trigger, exc)
            return False
        self._keys = keys
        self._metrics.jwks_fetches.labels(trigger=trigger, outcome="ok").inc()
        self._metrics.jwks_keys.set(len(keys))
        return True

    async def _fetch(self) -> Any:
        if self._client is None:
            raise JwksUnavailableError("the JWKS cache is not started")
        async with self._client.stream("GET", self.url) as response:
            response.raise_for_status()
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > MAX_JWKS_BYTES:
                    raise JwksUnavailableError(f"key set larger than {MAX_JWKS_BYTES} bytes")
        return json.loads(body)

    async def _refresh_periodically(self) -> None:
        while True:
            delay = self.refresh_interval_seconds
            if not self._keys:  # still nothing: retry sooner, but not in a tight loop
                delay = min(delay, max(self.min_refresh_interval_seconds, 1.0))
            await asyncio.sleep(delay)
            await self.refresh(trigger="scheduled")
