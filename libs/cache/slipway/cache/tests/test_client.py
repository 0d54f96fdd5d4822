"""RedisClient: a slipway.web resource whose readiness check passes, fails and times out."""

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
from pydantic import SecretStr
from redis.exceptions import ConnectionError as RedisConnectionError

from slipway.cache import RedisClient, RedisSettings
from slipway.config import Environment, ServiceSettings, render_settings
from slipway.web import ReadinessCheck, Resource, ServiceParts, create_app
from slipway.web.testing import app_client


class Settings(ServiceSettings):
    redis: RedisSettings = RedisSettings()


def test_client_plugs_into_slipway_web() -> None:
    client = RedisClient(name="sessions")
    assert isinstance(client, Resource)
    assert isinstance(client.readiness_check, ReadinessCheck)
    assert client.readiness_check.name == "sessions"


def test_the_password_never_shows() -> None:
    url = "redis://:hunter2-very-secret@cache:6379/0"
    settings = Settings(redis=RedisSettings(url=SecretStr(url)))
    assert "hunter2" not in repr(settings)
    assert "hunter2" not in render_settings(settings)
    assert "hunter2" not in repr(RedisClient(settings.redis))


def test_keys_carry_the_prefix() -> None:
    client = RedisClient(RedisSettings(key_prefix="billing:"))
    assert client.key("cache", "users", "42") == "billing:cache:users:42"


@pytest.fixture
async def silent_server() -> AsyncIterator[str]:
    """A TCP server that accepts connections and never answers: a hung Redis."""
    held: list[asyncio.StreamWriter] = []

    async def hold(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    yield f"redis://127.0.0.1:{port}/0"
    for writer in held:
        writer.close()
    server.close()
    await server.wait_closed()


@pytest.mark.integration
async def test_ready_through_the_app(redis_settings: RedisSettings) -> None:
    client = RedisClient(redis_settings, name="cache")
    app = create_app(
        ServiceSettings(service_name="cache-test", environment=Environment.TEST),
        ServiceParts(resources=[client], readiness_checks=[client.readiness_check]),
    )
    async with app_client(app) as http:
        response = await http.get("/ready")
    assert response.status_code == 200
    assert response.json()["checks"]["cache"]["status"] == "ok"


async def test_nothing_listening_fails_start_and_readiness() -> None:
    client = RedisClient(RedisSettings(url=SecretStr("redis://127.0.0.1:1/0")))
    started = time.monotonic()
    with pytest.raises(RedisConnectionError):
        await client.start()
    with pytest.raises(RedisConnectionError):
        await client.readiness_check()
    assert time.monotonic() - started < 1.0
    await client.stop()


async def test_hung_server_times_out_within_the_readiness_timeout(silent_server: str) -> None:
    settings = RedisSettings(
        url=SecretStr(silent_server), readiness_timeout_seconds=0.3, socket_timeout_seconds=5
    )
    client = RedisClient(settings)
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        await client.readiness_check()
    assert time.monotonic() - started < 1.0
    await client.stop()
