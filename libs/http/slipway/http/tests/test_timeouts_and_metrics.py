"""Timeouts against a slow real upstream, and the metric families' values."""

import time
from collections.abc import Awaitable, Callable

import pytest
from prometheus_client import CollectorRegistry

from slipway.http import ResilientClient, UpstreamStatusError, UpstreamTimeout
from slipway.http.tests.fake_time import FakeTime
from slipway.http.tests.upstream_server import FailingUpstream

MakeClient = Callable[..., Awaitable[ResilientClient]]


async def test_total_timeout_covers_retries_and_backoff(
    make_client: MakeClient, upstream: FailingUpstream, key: str, registry: CollectorRegistry
) -> None:
    client = await make_client(
        real_time=True,
        total_timeout=0.5,
        retry={"attempts": 10, "backoff_base": 0.001, "backoff_max": 0.001},
        breaker={"failure_threshold": 100},
    )
    started = time.monotonic()
    with pytest.raises(UpstreamTimeout) as caught:
        # Every try answers 503 after 80 ms: about the sixth is cut short at 500 ms.
        await client.get(f"/fail/{key}", params={"delay": 0.08})
    assert time.monotonic() - started < 1.5  # well below 10 slow tries
    assert 2 <= upstream.hits[key] <= 7
    assert caught.value.host == upstream.host
    timeouts = registry.get_sample_value(
        "http_client_requests_total", {"host": upstream.host, "method": "GET", "status": "timeout"}
    )
    assert timeouts == 1  # the try cut short by the total timeout


async def test_read_timeout_raises_and_is_not_retried(
    make_client: MakeClient, upstream: FailingUpstream, key: str
) -> None:
    client = await make_client(read_timeout=0.05)
    with pytest.raises(UpstreamTimeout):
        await client.get(f"/slow/{key}", params={"delay": 0.3})
    assert upstream.hits[key] == 1


async def test_a_retry_after_beyond_the_deadline_fails_now(
    make_client: MakeClient, upstream: FailingUpstream, key: str, fake_time: FakeTime
) -> None:
    client = await make_client(total_timeout=1.0, retry={"retry_after_max": 30.0})
    with pytest.raises(UpstreamStatusError) as caught:
        await client.get(f"/fail/{key}", params={"status": 429, "retry_after": "5"})
    assert caught.value.status == 429
    assert fake_time.sleeps == []
    assert upstream.hits[key] == 1


async def test_request_metrics(
    make_client: MakeClient, upstream: FailingUpstream, key: str, registry: CollectorRegistry
) -> None:
    client = await make_client()
    await client.get(f"/fail/{key}", params={"times": 2})
    await client.post("/echo", json={})

    def sample(name: str, **labels: str) -> float | None:
        return registry.get_sample_value(name, {"host": upstream.host, **labels})

    assert sample("http_client_requests_total", method="GET", status="503") == 2
    assert sample("http_client_requests_total", method="GET", status="200") == 1
    assert sample("http_client_requests_total", method="POST", status="200") == 1
    assert sample("http_client_request_duration_seconds_count", method="GET", status="503") == 2
    duration = sample("http_client_request_duration_seconds_sum", method="GET", status="200")
    assert duration is not None
    assert duration > 0
    assert sample("http_client_retries_total", reason="status_503") == 2
    assert sample("http_client_circuit_state") == 0
