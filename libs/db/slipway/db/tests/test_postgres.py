"""The real PostgreSQL: session settings, readiness healthy and failing, start-up failures."""

import time

import pytest
from prometheus_client import CollectorRegistry
from pydantic import SecretStr
from sqlalchemy import text

from slipway.config import Environment, ServiceSettings
from slipway.db import Database, DatabaseSettings
from slipway.db.testing import execute_outside_transaction
from slipway.web import ServiceParts, create_app
from slipway.web.testing import app_client

pytestmark = pytest.mark.integration


def settings_for(url: str, **options: object) -> DatabaseSettings:
    return DatabaseSettings.model_validate({"url": SecretStr(url), **options})


async def test_sessions_get_the_statement_timeout_and_application_name(
    postgres_url: str, registry: CollectorRegistry
) -> None:
    settings = settings_for(postgres_url, statement_timeout_ms=1500)
    database = Database(settings, service_name="billing", registry=registry)
    async with database, database.engine.connect() as connection:
        assert (await connection.execute(text("SHOW statement_timeout"))).scalar() == "1500ms"
        assert (await connection.execute(text("SHOW application_name"))).scalar() == "billing"
        with pytest.raises(Exception, match="statement timeout"):
            await connection.execute(text("SELECT pg_sleep(3)"))


async def test_readiness_fails_once_the_database_is_gone(
    postgres_url: str, postgres_database: Database
) -> None:
    await postgres_database.readiness_check()
    name = postgres_database.url.database
    await execute_outside_transaction(postgres_url, f'DROP DATABASE "{name}" WITH (FORCE)')
    app = create_app(
        ServiceSettings(service_name="db-test", environment=Environment.TEST),
        ServiceParts(readiness_checks=[postgres_database.readiness_check]),
    )
    async with app_client(app) as client:
        response = await client.get("/ready")
    assert response.status_code == 503
    assert response.json()["checks"]["database"]["status"] == "failed"


async def test_readiness_times_out_when_no_connection_is_free(
    postgres_url: str, registry: CollectorRegistry
) -> None:
    settings = settings_for(
        postgres_url, pool_size=1, max_overflow=0, readiness_timeout_seconds=0.3
    )
    async with Database(settings, registry=registry) as database:
        async with database.engine.connect() as held:
            await held.execute(text("SELECT 1"))
            started = time.monotonic()
            with pytest.raises(TimeoutError):
                await database.readiness_check()
            assert time.monotonic() - started < 1.5
        await database.readiness_check()  # healthy again once the connection is back


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://postgres@127.0.0.1:1/test",  # nothing listens: refused at once
        "postgresql://postgres@10.255.255.1:5432/test",  # unroutable: no answer at all
    ],
)
async def test_start_fails_within_the_timeout_on_a_bad_url(
    url: str, registry: CollectorRegistry
) -> None:
    database = Database(settings_for(url, connect_timeout_seconds=1.0), registry=registry)
    started = time.monotonic()
    with pytest.raises((OSError, TimeoutError)):
        await database.start()
    assert time.monotonic() - started < 3.0
    with pytest.raises(RuntimeError, match="before start"):
        await database.readiness_check()  # a failed start leaves nothing open
