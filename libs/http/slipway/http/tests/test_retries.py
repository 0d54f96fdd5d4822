"""Retries against a real failing upstream: which requests, which failures, how long apart."""

import random
from collections.abc import Awaitable, Callable

import pytest
from prometheus_client import CollectorRegistry

from slipway.http import (
    HttpClientSettings,
    ResilientClient,
    UpstreamStatusError,
    UpstreamUnavailable,
)
from slipway.http.tests.fake_time import FakeTime
from slipway.http.tests.upstream_server import FailingUpstream

MakeClient = Callable[..., Awaitable[ResilientClient]]


def retries(registry: CollectorRegistry, host: str, reason: str) -> float:
    """The http_client_retries_total sample for `host` and `reason` (0 when absent)."""
    value = registry.get_sample_value("http_client_retries_total", {"host": host, "reason": reason})
    return value or 0.0


async def test_get_is_retried_until_the_upstream_recovers(
    make_client: MakeClient,
    upstream: FailingUpstream,
    key: str,
    registry: CollectorRegistry,
    fake_time: FakeTime,
) -> None:
    client = await make_client(retry={"attempts": 4, "backoff_base": 0.01, "backoff_max": 1.0})

    response = await client.get(f"/fail/{key}", params={"times": 3, "status": 503})

    assert response.status_code == 200
    assert response.text == "recovered"
    assert upstream.hits[key] == 4
    assert retries(registry, upstream.host, "status_503") == 3
    # No jitter: exponential 0.01, 0.02, 0.04.
    assert fake_time.sleeps == pytest.approx([0.01, 0.02, 0.04])


@pytest.mark.parametrize("status", [502, 504])
async def test_gateway_errors_are_retried(
    make_client: MakeClient, upstream: FailingUpstream, key: str, status: int
) -> None:
    client = await make_client()
    response = await client.put(f"/fail/{key}", params={"times": 1, "status": status})
    assert response.status_code == 200
    assert upstream.hits[key] == 2


async def test_post_without_idempotency_key_is_not_retried(
    make_client: MakeClient, upstream: FailingUpstream, key: str, registry: CollectorRegistry
) -> None:
    client = await make_client()

    with pytest.raises(UpstreamStatusError) as caught:
        await client.post(f"/fail/{key}", params={"times": 1}, json={"a": 1})

    assert caught.value.status == 503
    assert caught.value.host == upstream.host
    assert upstream.hits[key] == 1
    assert retries(registry, upstream.host, "status_503") == 0


@pytest.mark.parametrize("method", ["POST", "PATCH"])
async def test_post_and_patch_with_idempotency_key_are_retried(
    make_client: MakeClient, upstream: FailingUpstream, key: str, method: str
) -> None:
    client = await make_client()
    response = await client.request(
        method, f"/fail/{key}", params={"times": 2}, headers={"Idempotency-Key": key}, json={}
    )
    assert response.status_code == 200
    assert upstream.hits[key] == 3


async def test_retry_after_is_honoured_and_capped(
    make_client: MakeClient, upstream: FailingUpstream, key: str, fake_time: FakeTime
) -> None:
    client = await make_client(retry={"attempts": 3, "retry_after_max": 3.0})

    response = await client.get(
        f"/fail/{key}", params={"times": 1, "status": 429, "retry_after": "2"}
    )
    assert response.status_code == 200
    capped = await client.get(
        f"/fail/{key}-long", params={"times": 1, "status": 429, "retry_after": "3600"}
    )
    assert capped.status_code == 200

    assert fake_time.sleeps == [2.0, 3.0]
    assert upstream.hits[key] == 2


async def test_jittered_backoff_stays_within_the_exponential_bound(
    upstream: FailingUpstream, key: str, registry: CollectorRegistry, fake_time: FakeTime
) -> None:
    settings = HttpClientSettings.model_validate(
        {
            "base_url": upstream.base_url,
            "retry": {"attempts": 6, "backoff_base": 0.1, "backoff_max": 0.5, "jitter": 1.0},
            "breaker": {"failure_threshold": 100},
        }
    )
    async with ResilientClient(
        settings,
        registry=registry,
        clock=fake_time.monotonic,
        sleep=fake_time.sleep,
        rng=random.Random(7),  # noqa: S311 - seeded, for reproducible jitter
    ) as client:
        with pytest.raises(UpstreamStatusError):
            await client.get(f"/fail/{key}")

    bounds = [0.1, 0.2, 0.4, 0.5, 0.5]
    assert len(fake_time.sleeps) == len(bounds)
    assert all(0 <= delay <= bound for delay, bound in zip(fake_time.sleeps, bounds, strict=True))
    assert len(set(fake_time.sleeps)) == len(bounds)  # jittered, not fixed steps
    assert upstream.hits[key] == 6


async def test_exhausted_retries_raise_the_last_status(
    make_client: MakeClient, upstream: FailingUpstream, key: str
) -> None:
    client = await make_client(retry={"attempts": 3})
    with pytest.raises(UpstreamStatusError) as caught:
        await client.get(f"/fail/{key}")
    assert caught.value.status == 503
    assert upstream.hits[key] == 3


async def test_a_500_and_a_4xx_are_not_retried(
    make_client: MakeClient, upstream: FailingUpstream, key: str
) -> None:
    client = await make_client()
    for code in (500, 404):
        with pytest.raises(UpstreamStatusError) as caught:
            await client.get(f"/status/{code}", params={"key": key})
        assert caught.value.status == code
        assert upstream.hits[f"status/{code}/{key}"] == 1


async def test_without_raise_for_status_the_final_response_is_returned(
    make_client: MakeClient, upstream: FailingUpstream, key: str
) -> None:
    client = await make_client(raise_for_status=False)
    assert (await client.get("/status/404", params={"key": key})).status_code == 404
    assert (await client.get(f"/fail/{key}")).status_code == 503
    assert upstream.hits[key] == 3  # still retried before giving up


async def test_retry_budget_stops_retries_once_spent(
    make_client: MakeClient, upstream: FailingUpstream, key: str, registry: CollectorRegistry
) -> None:
    client = await make_client(
        retry={"attempts": 5, "budget_ratio": 0.5, "budget_min_per_second": 0.0}
    )
    await client.get("/echo")
    await client.get("/echo")  # two requests earn one retry; the failing call adds half of one

    with pytest.raises(UpstreamStatusError):
        await client.get(f"/fail/{key}")

    assert upstream.hits[key] == 2  # one try, one retry, then the budget is spent
    exhausted = registry.get_sample_value(
        "http_client_retry_budget_exhausted_total", {"host": upstream.host}
    )
    assert exhausted == 1


async def test_retry_budget_deposits_expire_with_the_window(
    make_client: MakeClient, upstream: FailingUpstream, key: str, fake_time: FakeTime
) -> None:
    client = await make_client(
        retry={"attempts": 5, "budget_ratio": 0.5, "budget_min_per_second": 0.0},
        breaker={"failure_threshold": 100},
    )
    await client.get("/echo")
    await client.get("/echo")
    fake_time.advance(11.0)  # past the 10 s budget window: the earned retry is gone

    with pytest.raises(UpstreamStatusError):
        await client.get(f"/fail/{key}")
    assert upstream.hits[key] == 1


async def test_refused_connections_raise_upstream_unavailable_after_retries(
    make_client: MakeClient, upstream: FailingUpstream, registry: CollectorRegistry
) -> None:
    client = await make_client(base_url=upstream.dead_url, retry={"attempts": 3})
    dead_host = upstream.dead_url.removeprefix("http://")

    with pytest.raises(UpstreamUnavailable) as caught:
        await client.get("/anything")

    assert caught.value.host == dead_host
    assert retries(registry, dead_host, "connect_error") == 2


async def test_dropped_connections_are_retried_for_get_only(
    make_client: MakeClient, upstream: FailingUpstream, key: str
) -> None:
    client = await make_client(base_url=upstream.drop_url)

    response = await client.get(f"/{key}-get", params={"times": 2})
    assert response.text == "recovered"
    assert upstream.hits[f"/{key}-get"] == 3

    with pytest.raises(UpstreamUnavailable):
        await client.post(f"/{key}-post", params={"times": 2}, content=b"x")
    assert upstream.hits[f"/{key}-post"] == 1
