"""Resources start in order, stop in reverse, and roll back when a start fails."""

import asyncio

import pytest

from slipway.config import ServiceSettings
from slipway.observability import ObservabilitySettings
from slipway.web import (
    BackgroundTask,
    Lifecycle,
    RateLimitSettings,
    Resource,
    ServiceParts,
    WebSettings,
    create_app,
    lifecycle_of,
)
from slipway.web.testing import app_client


class Recorder:
    """A resource that writes what happens to it into a shared journal."""

    def __init__(self, name: str, journal: list[str], *, fail_start: bool = False) -> None:
        self.name = name
        self.journal = journal
        self.fail_start = fail_start

    async def start(self) -> None:
        if self.fail_start:
            self.journal.append(f"fail {self.name}")
            raise RuntimeError(f"{self.name} is down")
        self.journal.append(f"start {self.name}")

    async def stop(self) -> None:
        self.journal.append(f"stop {self.name}")


async def test_resources_start_in_order_and_stop_in_reverse(
    service_settings: ServiceSettings,
) -> None:
    journal: list[str] = []
    resources: list[Resource] = [Recorder(name, journal) for name in ("db", "redis", "worker")]
    web = WebSettings(rate_limit=RateLimitSettings(enabled=False))
    app = create_app(service_settings, ServiceParts(resources=resources), web=web)
    async with app_client(app) as client:
        assert journal == ["start db", "start redis", "start worker"]
        assert (await client.get("/health")).status_code == 200
    assert journal[3:] == ["stop worker", "stop redis", "stop db"]


async def test_failed_start_stops_those_already_started() -> None:
    journal: list[str] = []
    lifecycle = Lifecycle(
        [
            Recorder("db", journal),
            Recorder("redis", journal),
            Recorder("broker", journal, fail_start=True),
            Recorder("never", journal),
        ]
    )
    with pytest.raises(RuntimeError, match="broker is down"):
        await lifecycle.start()
    assert journal == ["start db", "start redis", "fail broker", "stop redis", "stop db"]
    assert lifecycle.started == []


async def test_a_failing_stop_does_not_skip_the_others() -> None:
    journal: list[str] = []

    class BadStop(Recorder):
        async def stop(self) -> None:
            raise RuntimeError("cannot close")

    lifecycle = Lifecycle([Recorder("db", journal), BadStop("cache", journal)])
    async with lifecycle.running():
        pass
    assert journal == ["start db", "start cache", "stop db"]
    assert lifecycle.draining


async def test_background_task_runs_until_stopped() -> None:
    ticks = 0
    cancelled = asyncio.Event()

    async def tick() -> None:
        nonlocal ticks
        try:
            while True:
                ticks += 1
                await asyncio.sleep(0.01)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    lifecycle = Lifecycle([BackgroundTask("ticker", tick)])
    async with lifecycle.running():
        await asyncio.sleep(0.05)
        assert ticks > 1
    assert cancelled.is_set()


async def test_span_export_closes_last_when_an_endpoint_is_set(
    service_settings: ServiceSettings,
) -> None:
    journal: list[str] = []
    observability = ObservabilitySettings(otlp_endpoint="http://127.0.0.1:4318")
    app = create_app(
        service_settings,
        ServiceParts(resources=[Recorder("db", journal)]),
        observability=observability,
    )
    names = [resource.name for resource in lifecycle_of(app).resources]
    assert names == ["span-export", "ratelimit-memory", "db"]
    async with app_client(app):
        pass
    assert journal == ["start db", "stop db"]
