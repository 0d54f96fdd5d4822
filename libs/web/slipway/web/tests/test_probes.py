"""/health never touches dependencies; /ready runs every check concurrently, with a timeout."""

import asyncio
import time

import pytest

from slipway.config import ServiceSettings
from slipway.web import ReadinessCheck, ServiceParts, WebSettings, create_app, lifecycle_of
from slipway.web.testing import app_client


class Check:
    """A readiness check that sleeps, then passes or raises."""

    def __init__(self, name: str, *, delay: float = 0.0, error: str | None = None) -> None:
        self.name = name
        self.delay = delay
        self.error = error
        self.calls = 0

    async def __call__(self) -> None:
        self.calls += 1
        await asyncio.sleep(self.delay)
        if self.error:
            raise ConnectionError(self.error)


async def test_health_does_not_run_checks(service_settings: ServiceSettings) -> None:
    check = Check("database", error="down")
    app = create_app(service_settings, ServiceParts(readiness_checks=[check]))
    async with app_client(app) as client:
        response = await client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert check.calls == 0


async def test_ready_when_every_check_passes(service_settings: ServiceSettings) -> None:
    app = create_app(
        service_settings, ServiceParts(readiness_checks=[Check("database"), Check("redis")])
    )
    async with app_client(app) as client:
        response = await client.get("/ready")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert {name: c["status"] for name, c in body["checks"].items()} == {
        "database": "ok",
        "redis": "ok",
    }


async def test_ready_503_with_per_check_status(service_settings: ServiceSettings) -> None:
    checks: list[ReadinessCheck] = [
        Check("database"),
        Check("redis", error="connection refused"),
        Check("search", delay=5.0),
    ]
    web = WebSettings(readiness_timeout_seconds=0.2)
    app = create_app(service_settings, ServiceParts(readiness_checks=checks), web=web)
    async with app_client(app) as client:
        started = time.perf_counter()
        response = await client.get("/ready")
        elapsed = time.perf_counter() - started
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    statuses = {name: c["status"] for name, c in body["checks"].items()}
    assert statuses == {"database": "ok", "redis": "failed", "search": "timeout"}
    assert "connection refused" in body["checks"]["redis"]["detail"]
    assert body["detail"] == "failing checks: redis, search"
    assert elapsed < 1.0


async def test_checks_run_concurrently(service_settings: ServiceSettings) -> None:
    checks: list[ReadinessCheck] = [Check(f"dep{i}", delay=0.3) for i in range(4)]
    app = create_app(service_settings, ServiceParts(readiness_checks=checks))
    async with app_client(app) as client:
        started = time.perf_counter()
        response = await client.get("/ready")
        elapsed = time.perf_counter() - started
    assert response.status_code == 200
    assert elapsed < 0.9  # serially they would take 1.2 s


async def test_ready_503_while_draining(service_settings: ServiceSettings) -> None:
    app = create_app(service_settings, ServiceParts(readiness_checks=[Check("database")]))
    async with app_client(app) as client:
        assert (await client.get("/ready")).status_code == 200
        lifecycle_of(app).begin_draining()
        response = await client.get("/ready")
        assert response.status_code == 503
        assert response.json()["draining"] is True
        assert (await client.get("/health")).status_code == 200


async def test_readiness_and_requests_reach_metrics(service_settings: ServiceSettings) -> None:
    checks: list[ReadinessCheck] = [Check("metrics-db"), Check("metrics-cache", error="down")]
    app = create_app(service_settings, ServiceParts(readiness_checks=checks))
    async with app_client(app) as client:
        await client.get("/ready")
        text = (await client.get("/metrics")).text
    assert 'readiness_check_healthy{check="metrics-db"} 1.0' in text
    assert 'readiness_check_healthy{check="metrics-cache"} 0.0' in text
    assert 'route="/ready"' in text


async def test_ready_200_degraded_when_only_noncritical_checks_fail(
    service_settings: ServiceSettings,
) -> None:
    parts = ServiceParts(
        readiness_checks=[Check("database")],
        noncritical_checks=[Check("upstream", error="connection refused"), Check("cache")],
    )
    app = create_app(service_settings, parts)
    async with app_client(app) as client:
        response = await client.get("/ready")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["status"] == "degraded"
    assert body["degraded"] == ["upstream"]
    assert body["checks"]["database"]["status"] == "ok"
    assert "critical" not in body["checks"]["database"]
    assert body["checks"]["upstream"]["status"] == "failed"
    assert body["checks"]["upstream"]["critical"] is False
    assert "connection refused" in body["checks"]["upstream"]["detail"]
    assert body["checks"]["cache"] == {
        "status": "ok",
        "critical": False,
        "duration_ms": body["checks"]["cache"]["duration_ms"],
    }


async def test_ready_ok_when_noncritical_checks_pass(service_settings: ServiceSettings) -> None:
    app = create_app(service_settings, ServiceParts(noncritical_checks=[Check("upstream")]))
    async with app_client(app) as client:
        response = await client.get("/ready")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


async def test_noncritical_timeout_degrades_rather_than_fails(
    service_settings: ServiceSettings,
) -> None:
    web = WebSettings(readiness_timeout_seconds=0.1)
    parts = ServiceParts(noncritical_checks=[Check("upstream", delay=5.0)])
    app = create_app(service_settings, parts, web=web)
    async with app_client(app) as client:
        response = await client.get("/ready")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded"
    assert body["checks"]["upstream"]["status"] == "timeout"


async def test_ready_503_when_a_critical_check_fails_beside_noncritical_ones(
    service_settings: ServiceSettings,
) -> None:
    parts = ServiceParts(
        readiness_checks=[Check("database", error="down")],
        noncritical_checks=[Check("upstream", error="refused")],
    )
    app = create_app(service_settings, parts)
    async with app_client(app) as client:
        response = await client.get("/ready")
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["detail"] == "failing checks: database"  # only critical ones fail readiness
    assert body["checks"]["upstream"]["status"] == "failed"
    assert body["checks"]["upstream"]["critical"] is False


async def test_ready_503_while_draining_even_if_only_noncritical_checks(
    service_settings: ServiceSettings,
) -> None:
    app = create_app(service_settings, ServiceParts(noncritical_checks=[Check("upstream")]))
    async with app_client(app) as client:
        lifecycle_of(app).begin_draining()
        response = await client.get("/ready")
    assert response.status_code == 503
    assert response.json()["draining"] is True


async def test_noncritical_failures_reach_metrics(service_settings: ServiceSettings) -> None:
    parts = ServiceParts(noncritical_checks=[Check("metrics-upstream", error="down")])
    app = create_app(service_settings, parts)
    async with app_client(app) as client:
        await client.get("/ready")
        text = (await client.get("/metrics")).text
    assert 'readiness_check_healthy{check="metrics-upstream"} 0.0' in text


def test_a_check_cannot_be_both_critical_and_noncritical(
    service_settings: ServiceSettings,
) -> None:
    parts = ServiceParts(
        readiness_checks=[Check("upstream")], noncritical_checks=[Check("upstream")]
    )
    with pytest.raises(ValueError, match="upstream"):
        create_app(service_settings, parts)
