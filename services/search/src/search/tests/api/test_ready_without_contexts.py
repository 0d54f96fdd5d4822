"""contexts down: search stays in rotation (/ready 200 "degraded" naming contexts) and serves.

The app is the service's own, following a contexts nobody listens for (a closed port), with no
grace period, so its `contexts` readiness check fails on the first /ready.
"""

import socket
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from pydantic import SecretStr

from search.adapters.indexing import IndexingSettings
from search.adapters.sql import SqlSearchIndex
from search.composition import compose
from search.main import service
from search.settings import Settings
from search.tests.builders import bearer, indexed
from slipway.config import Environment
from slipway.db import Database, DatabaseSettings
from slipway.http import HttpClientSettings
from slipway.web.testing import app_client


def _closed_port_url() -> str:
    """A local URL nothing listens on (the port was free a moment ago)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def _settings(tmp_path: Path, *, contexts_check_critical: bool = False) -> Settings:
    url = _closed_port_url()
    return Settings(
        environment=Environment.TEST,
        database=DatabaseSettings(url=SecretStr(f"sqlite+aiosqlite:///{tmp_path / 'test.db'}")),
        redis=None,
        indexing=IndexingSettings(
            contexts=HttpClientSettings(base_url=url),
            unready_after_seconds=0,
            contexts_check_critical=contexts_check_critical,
        ),
    )


async def test_contexts_down_keeps_search_ready_and_degraded_and_serving(
    tmp_path: Path,
) -> None:
    settings = _settings(tmp_path)
    async with app_client(service.build_app(settings)) as client:
        async with Database(settings.database, registry=CollectorRegistry()) as database:
            await SqlSearchIndex(database).put(indexed("runbook", "roll back a release"))
        ready = await client.get("/ready")
        found = await client.get("/v1/search", params={"q": "release"}, headers=bearer("bob"))
        metrics = (await client.get("/metrics")).text

    assert ready.status_code == 200, ready.text
    body = ready.json()
    assert body["status"] == "degraded"
    assert body["degraded"] == ["contexts"]
    assert body["checks"]["database"]["status"] == "ok"
    contexts = body["checks"]["contexts"]
    assert contexts["status"] == "failed"
    assert contexts["critical"] is False
    assert "change feed not connected" in contexts["detail"]
    assert 'readiness_check_healthy{check="contexts"} 0.0' in metrics
    assert found.status_code == 200
    assert [hit["name"] for hit in found.json()["items"]] == ["runbook"]


async def test_contexts_check_critical_makes_ready_503(tmp_path: Path) -> None:
    settings = _settings(tmp_path, contexts_check_critical=True)
    async with app_client(service.build_app(settings)) as client:
        ready = await client.get("/ready")

    assert ready.status_code == 503, ready.text
    assert ready.headers["content-type"] == "application/problem+json"
    assert ready.json()["detail"] == "failing checks: contexts"


@pytest.mark.parametrize("critical", [False, True])
def test_the_contexts_check_is_registered_where_the_setting_says(
    tmp_path: Path, critical: bool
) -> None:
    parts = compose(_settings(tmp_path, contexts_check_critical=critical))
    critical_names = [check.name for check in parts.readiness_checks]
    noncritical_names = [check.name for check in parts.noncritical_checks]
    assert ("contexts" in critical_names) is critical
    assert ("contexts" in noncritical_names) is not critical
