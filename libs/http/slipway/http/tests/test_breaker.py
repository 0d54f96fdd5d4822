"""The per-host circuit breaker, driven by a real failing upstream and a fake clock."""

import asyncio
from collections.abc import Awaitable, Callable

import pytest
from prometheus_client import CollectorRegistry

from slipway.http import (
    BreakerSettings,
    CircuitBreaker,
    CircuitOpenError,
    CircuitState,
    ResilientClient,
    UpstreamStatusError,
)
from slipway.http.tests.fake_time import FakeTime
from slipway.http.tests.upstream_server import FailingUpstream

MakeClient = Callable[..., Awaitable[ResilientClient]]


def circuit_gauge(registry: CollectorRegistry, host: str) -> float | None:
    """The http_client_circuit_state sample for `host`."""
    return registry.get_sample_value("http_client_circuit_state", {"host": host})


def retries(registry: CollectorRegistry, host: str) -> float | None:
    """The http_client_retries_total sample for `host` (reason status_503)."""
    labels = {"host": host, "reason": "status_503"}
    return registry.get_sample_value("http_client_retries_total", labels)


async def open_circuit(client: ResilientClient, key: str, failures: int) -> None:
    """Fail `failures` calls against the upstream."""
    for _ in range(failures):
        with pytest.raises(UpstreamStatusError):
            await client.get(f"/fail/{key}")


async def test_breaker_opens_after_consecutive_failures_and_fails_fast(
    make_client: MakeClient,
    upstream: FailingUpstream,
    key: str,
    registry: CollectorRegistry,
    fake_time: FakeTime,
) -> None:
    client = await make_client(
        retry={"attempts": 1}, breaker={"failure_threshold": 3, "open_duration": 30.0}
    )
    await client.get("/echo")
    assert circuit_gauge(registry, upstream.host) == 0

    await open_circuit(client, key, failures=3)
    assert client.circuit_state(upstream.host) is CircuitState.OPEN
    assert circuit_gauge(registry, upstream.host) == 2

    fake_time.advance(10.0)
    echo_hits = upstream.hits["echo"]
    with pytest.raises(CircuitOpenError) as caught:
        await client.get("/echo")
    assert caught.value.host == upstream.host
    assert caught.value.retry_after == pytest.approx(20.0)
    assert upstream.hits["echo"] == echo_hits  # the upstream was never touched
    assert upstream.hits[key] == 3


async def test_successes_reset_the_consecutive_count(
    make_client: MakeClient, upstream: FailingUpstream, key: str
) -> None:
    client = await make_client(retry={"attempts": 1}, breaker={"failure_threshold": 3})
    for _ in range(3):
        await open_circuit(client, key, failures=2)
        await client.get("/echo")
    assert client.circuit_state(upstream.host) is CircuitState.CLOSED


async def test_half_open_probe_success_closes_the_circuit(
    make_client: MakeClient,
    upstream: FailingUpstream,
    key: str,
    registry: CollectorRegistry,
    fake_time: FakeTime,
) -> None:
    client = await make_client(
        retry={"attempts": 1},
        breaker={"failure_threshold": 2, "open_duration": 5.0, "half_open_probes": 2},
    )
    await open_circuit(client, key, failures=2)

    fake_time.advance(5.0)
    assert client.circuit_state(upstream.host) is CircuitState.HALF_OPEN
    assert circuit_gauge(registry, upstream.host) == 1
    await client.get("/echo")
    assert client.circuit_state(upstream.host) is CircuitState.HALF_OPEN  # one of two probes
    await client.get("/echo")
    assert client.circuit_state(upstream.host) is CircuitState.CLOSED
    assert circuit_gauge(registry, upstream.host) == 0


async def test_half_open_probe_failure_reopens_the_circuit(
    make_client: MakeClient,
    upstream: FailingUpstream,
    key: str,
    registry: CollectorRegistry,
    fake_time: FakeTime,
) -> None:
    client = await make_client(
        retry={"attempts": 1}, breaker={"failure_threshold": 2, "open_duration": 5.0}
    )
    await open_circuit(client, key, failures=2)
    fake_time.advance(5.0)

    await open_circuit(client, key, failures=1)  # the probe fails

    assert client.circuit_state(upstream.host) is CircuitState.OPEN
    assert circuit_gauge(registry, upstream.host) == 2
    with pytest.raises(CircuitOpenError) as caught:
        await client.get("/echo")
    assert caught.value.retry_after == pytest.approx(5.0)  # a fresh open period
    assert upstream.hits[key] == 3


async def test_half_open_lets_only_the_configured_probes_through(
    make_client: MakeClient, upstream: FailingUpstream, key: str, fake_time: FakeTime
) -> None:
    client = await make_client(
        retry={"attempts": 1}, breaker={"failure_threshold": 1, "open_duration": 5.0}
    )
    await open_circuit(client, key, failures=1)
    fake_time.advance(5.0)

    probe = asyncio.create_task(client.get(f"/slow/{key}-slow", params={"delay": 0.2}))
    await asyncio.sleep(0.05)  # the probe is in flight
    with pytest.raises(CircuitOpenError):
        await client.get("/echo")
    assert (await probe).text == "slow"
    assert client.circuit_state(upstream.host) is CircuitState.CLOSED


async def test_retries_stop_when_the_breaker_opens_midway(
    make_client: MakeClient, upstream: FailingUpstream, key: str, registry: CollectorRegistry
) -> None:
    client = await make_client(retry={"attempts": 5}, breaker={"failure_threshold": 2})
    with pytest.raises(UpstreamStatusError):
        await client.get(f"/fail/{key}")
    assert upstream.hits[key] == 2
    assert retries(registry, upstream.host) == 1


async def test_failure_ratio_over_the_window_opens_the_circuit(
    make_client: MakeClient, upstream: FailingUpstream, key: str
) -> None:
    client = await make_client(
        retry={"attempts": 1},
        breaker={"failure_threshold": 100, "failure_ratio": 0.5, "minimum_requests": 6},
    )
    for _ in range(2):
        await client.get("/echo")
        await open_circuit(client, key, failures=1)
    assert client.circuit_state(upstream.host) is CircuitState.CLOSED  # 4 < minimum_requests
    await client.get("/echo")
    await open_circuit(client, key, failures=1)
    assert client.circuit_state(upstream.host) is CircuitState.OPEN  # 3 of 6 failed


async def test_4xx_and_429_do_not_count_against_the_upstream(
    make_client: MakeClient, upstream: FailingUpstream, key: str
) -> None:
    client = await make_client(retry={"attempts": 1}, breaker={"failure_threshold": 2})
    for _ in range(3):
        with pytest.raises(UpstreamStatusError):
            await client.get(f"/fail/{key}", params={"status": 429})
        with pytest.raises(UpstreamStatusError):
            await client.get("/status/404")
    assert client.circuit_state(upstream.host) is CircuitState.CLOSED


def test_outcomes_from_before_a_state_change_are_ignored(fake_time: FakeTime) -> None:
    breaker = CircuitBreaker(
        "upstream:80", BreakerSettings(failure_threshold=1, open_duration=1.0), fake_time.monotonic
    )
    slow = breaker.acquire()
    breaker.record_failure(breaker.acquire())
    fake_time.advance(1.0)
    probe = breaker.acquire()
    assert probe.probe

    breaker.record_success(slow)  # issued while closed: not a probe, must not close it
    states = [breaker.state]
    breaker.record_success(probe)
    states.append(breaker.state)
    assert states == [CircuitState.HALF_OPEN, CircuitState.CLOSED]
