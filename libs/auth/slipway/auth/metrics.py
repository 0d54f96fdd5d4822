"""Prometheus metrics for token verification and key-set fetches, once per registry."""

import threading
from dataclasses import dataclass
from weakref import WeakKeyDictionary

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge


@dataclass(frozen=True, slots=True)
class AuthMetrics:
    """The auth metric families registered on one registry."""

    rejections: Counter
    jwks_fetches: Counter
    jwks_keys: Gauge


_by_registry: "WeakKeyDictionary[CollectorRegistry, AuthMetrics]" = WeakKeyDictionary()
_lock = threading.Lock()


def auth_metrics(registry: CollectorRegistry | None = None) -> AuthMetrics:
    """The auth metric families on `registry` (default: the global one), registered once."""
    target = REGISTRY if registry is None else registry
    with _lock:
        found = _by_registry.get(target)
        if found is None:
            found = AuthMetrics(
                rejections=Counter(
                    "auth_token_rejections",
                    "Bearer tokens refused, by reason (expired, bad_signature, ...).",
                    ("reason",),
                    registry=target,
                ),
                jwks_fetches=Counter(
                    "auth_jwks_fetches",
                    "Key-set fetches from the issuer, by trigger and outcome.",
                    ("trigger", "outcome"),
                    registry=target,
                ),
                jwks_keys=Gauge(
                    "auth_jwks_keys",
                    "Signing keys currently usable from the issuer's key set.",
                    registry=target,
                ),
            )
            _by_registry[target] = found
        return found
