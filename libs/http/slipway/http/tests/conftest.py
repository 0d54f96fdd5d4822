"""Fixtures for the slipway.http tests: a real failing upstream, fake time, clients."""

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from slipway.http import HttpClientSettings, ResilientClient
from slipway.http.tests.fake_time import FakeTime
from slipway.http.tests.upstream_server import FailingUpstream


@pytest.fixture(scope="session")
def upstream() -> Iterator[FailingUpstream]:
    """The failing upstream, shared by every test (each test uses its own keys)."""
    server = FailingUpstream()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def key() -> str:
    """A fresh key, so hit counts and failure scripts are this test's own."""
    return uuid.uuid4().hex


@pytest.fixture
def registry() -> CollectorRegistry:
    """A fresh Prometheus registry."""
    return CollectorRegistry()


@pytest.fixture
def fake_time() -> FakeTime:
    """Fake clock and sleep."""
    return FakeTime()


@pytest.fixture
async def make_client(
    upstream: FailingUpstream, registry: CollectorRegistry, fake_time: FakeTime
) -> AsyncIterator[Callable[..., Awaitable[ResilientClient]]]:
    """Build a started client on the upstream: fast settings, fake time; override with kwargs.

    Keyword arguments are HttpClientSettings fields (retry/breaker as dicts); `real_time=True`
    keeps the real clock and sleep.
    """
    clients: list[ResilientClient] = []

    async def build(*, real_time: bool = False, **overrides: Any) -> ResilientClient:
        fields: dict[str, Any] = {
            "base_url": upstream.base_url,
            "total_timeout": 5.0,
            "retry": {"attempts": 3, "backoff_base": 0.01, "backoff_max": 0.1, "jitter": 0.0},
        }
        for name in ("retry", "breaker"):
            if name in overrides:
                fields[name] = {**fields.get(name, {}), **overrides.pop(name)}
        fields.update(overrides)
        time_kwargs: dict[str, Any] = (
            {} if real_time else {"clock": fake_time.monotonic, "sleep": fake_time.sleep}
        )
        client = ResilientClient(
            HttpClientSettings.model_validate(fields), registry=registry, **time_kwargs
        )
        await client.start()
        clients.append(client)
        return client

    yield build
    for client in clients:
        await client.stop()
