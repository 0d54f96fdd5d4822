"""Prometheus metrics for token verification and key-set fetches, once per registry."""

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge

from slipway.observability.registry import MetricsPerRegistry


@dataclass(frozen=True, slots=True)
class AuthMetrics:
    """The auth metric families registered on one registry."""

    rejections: Counter
    jwks_fetches: Counter
    jwks_keys: Gauge
    token_cache_lookups: Counter


def _register(registry: CollectorRegistry) -> AuthMetrics:
    return AuthMetrics(
        rejections=Counter(
            "auth_token_rejections",
            "Bearer tokens refused, by reason (expired, bad_signature, ...).",
            ("reason",),
            registry=registry,
        ),
        jwks_fetches=Counter(
            "auth_jwks_fetches",
            "Key-set fetches from the issuer, by trigger and outcome.",
            ("trigger", "outcome"),
            registry=registry,
        ),
        jwks_keys=Gauge(
            "auth_jwks_keys",
            "Signing keys currently usable from the issuer's key set.",
            registry=registry,
        ),
        token_cache_lookups=Counter(
            "auth_token_cache_lookups",
            "Verified-token cache lookups: hit, miss, or stale (held but no longer good, so "
            "verified again).",
            ("outcome",),
            registry=registry,
        ),
    )


auth_metrics = MetricsPerRegistry(_register)
"""The auth metric families on `registry` (default: the global one), registered once."""
