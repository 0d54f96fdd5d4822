"""/health never touches dependencies; /ready runs every check concurrently, with a timeout."""

import asyncio
import time

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
