"""The rate limiter's fast paths give the same decisions, keys and header bytes as the plain code.

The plain versions below are the code the fast paths replaced, kept here as the oracle.
"""

import math
import random
from typing import Any

import pytest

from slipway.web.ratelimit import (
    MemoryRateLimitBackend,
    RateLimitDecision,
    middleware,
    principal_or_client_ip,
)
from slipway.web.ratelimit.memory_backend import gcra
from slipway.web.ratelimit.middleware import encoded_rate_limit_headers

_MICROS = 1_000_000


def _plain_gcra(
    tat: int | None, now: int, *, limit: int, period: int
) -> tuple[RateLimitDecision, int | None]:
    interval = period / limit
    base = max(tat if tat is not None else now, now)
    new_tat = base + interval
    allow_at = new_tat - period
    if now < allow_at:
        refused = RateLimitDecision(
            False, limit, 0, (base - now) / _MICROS, (allow_at - now) / _MICROS
        )
        return refused, None
    remaining = int((period - (new_tat - now)) / interval + 1e-6)
    return RateLimitDecision(True, limit, remaining, (new_tat - now) / _MICROS, 0.0), round(new_tat)


def _plain_headers(decision: RateLimitDecision) -> tuple[tuple[bytes, bytes], ...]:
    return (
        (b"ratelimit-limit", str(decision.limit).encode("latin-1")),
        (b"ratelimit-remaining", str(decision.remaining).encode("latin-1")),
        (b"ratelimit-reset", str(math.ceil(decision.reset_seconds)).encode("latin-1")),
    )


def _plain_key(scope: Any) -> str:
    principal = scope.get("state", {}).get("principal")
    if principal is not None:
        subject = getattr(principal, "subject", principal)
        return f"principal:{subject}"
    client = scope.get("client")
    return f"ip:{client[0] if client else 'unknown'}"


def _same(fast: RateLimitDecision, plain: RateLimitDecision) -> bool:
    """Equal field by field, with the same types (True vs 1, 0.0 vs 0 would compare equal)."""
    return (
        type(fast) is type(plain)
        and fast == plain
        and [type(f) for f in fast] == [type(p) for p in plain]
    )


def _limits(rng: random.Random) -> tuple[int, int]:
    limit = rng.choice([1, 2, 3, 7, 10, 60, 100, 1000, 10**6, 10**9, rng.randint(1, 10**9)])
    period = rng.choice([1, 999, _MICROS, 60 * _MICROS, 3600 * _MICROS, rng.randint(1, 10**10)])
    return limit, period


def test_gcra_matches_the_plain_step_on_random_inputs() -> None:
    rng = random.Random(1234)  # noqa: S311 - reproducible test inputs, not secrets
    for _ in range(50_000):
        limit, period = _limits(rng)
        now = rng.randint(0, 10**13)
        tat = rng.choice([None, now, now - 1, now + 1, now + rng.randint(-2 * period, 2 * period)])
        fast, fast_tat = gcra(tat, now, limit=limit, period=period)
        plain, plain_tat = _plain_gcra(tat, now, limit=limit, period=period)
        assert _same(fast, plain), (tat, now, limit, period)
        assert fast_tat == plain_tat
        assert type(fast_tat) is type(plain_tat)
        if fast.allowed:
            assert encoded_rate_limit_headers(fast) == _plain_headers(plain)


class _Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_the_backend_matches_the_plain_step_over_request_sequences() -> None:
    rng = random.Random(99)  # noqa: S311 - reproducible test inputs, not secrets
    for _ in range(300):
        limit, _period = _limits(rng)
        limit = min(limit, 50)
        window = rng.choice([0.5, 1.0, 3.0, 60.0, rng.uniform(0.001, 100)])
        clock = _Clock(rng.uniform(0, 10**6))
        backend = MemoryRateLimitBackend(clock=clock)
        tats: dict[str, int] = {}
        for _ in range(200):
            clock.now += rng.choice([0.0, 0.0, 1e-6, rng.uniform(0, window / limit * 2)])
            key = rng.choice(["ip:a", "ip:b", "principal:c"])
            fast = backend.take(key, limit=limit, window_seconds=window)
            now = int(clock.now * _MICROS)
            plain, new_tat = _plain_gcra(
                tats.get(key), now, limit=limit, period=int(window * _MICROS)
            )
            if new_tat is not None:
                tats[key] = new_tat
            assert _same(fast, plain)
            assert encoded_rate_limit_headers(fast) == _plain_headers(plain)


class _Principal:
    subject = "user-7"


def test_the_key_matches_the_plain_key() -> None:
    scopes: list[dict[str, Any]] = [
        {"client": ("10.0.0.1", 5)},
        {"client": ("10.0.0.1", 6)},
        {"client": ["::1", 5]},
        {"client": (["not", "hashable"], 5)},
        {"client": None},
        {},
        {"client": ("10.0.0.2", 5), "state": {}},
        {"client": ("10.0.0.2", 5), "state": {"principal": _Principal()}},
        {"client": ("10.0.0.2", 5), "state": {"principal": "raw"}},
        {"state": {"principal": None}, "client": ("h", 1)},
    ]
    for _ in range(2):  # the second round is answered from the cache
        for scope in scopes:
            assert principal_or_client_ip(scope) == _plain_key(scope)


def test_a_connection_reuses_its_key_and_header_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fails on the plain code: it formats a new key and new header bytes per request."""
    # Empty caches: the tests before may have filled them to their bound.
    monkeypatch.setattr(middleware, "_IP_KEYS", {})
    monkeypatch.setattr(middleware, "_INT_BYTES", {})
    first = principal_or_client_ip({"client": ("10.9.9.9", 1)})
    assert principal_or_client_ip({"client": ("10.9.9.9", 2)}) is first
    decision = RateLimitDecision(True, 123_456, 123_455, 0.5, 0.0)
    assert all(
        a is b
        for (_, a), (_, b) in zip(
            encoded_rate_limit_headers(decision), encoded_rate_limit_headers(decision), strict=True
        )
    )


def test_the_caches_stay_bounded() -> None:
    for n in range(10_000):
        principal_or_client_ip({"client": (f"172.16.{n // 256}.{n % 256}", 1)})
        encoded_rate_limit_headers(RateLimitDecision(True, 10**7 + n, n, n + 0.5, 0.0))
    # Past the bound the answers are still right, only not kept.
    assert principal_or_client_ip({"client": ("192.168.77.1", 1)}) == "ip:192.168.77.1"
    assert encoded_rate_limit_headers(RateLimitDecision(True, 10**8, 5, 2.5, 0.0)) == (
        (b"ratelimit-limit", b"100000000"),
        (b"ratelimit-remaining", b"5"),
        (b"ratelimit-reset", b"3"),
    )
