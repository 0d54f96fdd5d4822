"""Redis fixtures for tests: the machine's Redis under a per-test prefix, and a private server.

In a service's conftest.py::

    pytest_plugins = ["slipway.cache.testing"]

then ask for `redis_settings` (the test Redis, keys under a prefix of this test's own),
`redis_client` (a started `RedisClient` whose keys are deleted afterwards) or
`private_redis_server` (a `redis-server` of the test's own, to stop and restart in outage
tests). The test Redis is `SLIPWAY_TEST_REDIS_URL` (default `redis://127.0.0.1:6379/0`); when
it is unreachable the tests skip, or fail when `CI` is set.
"""

import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import NoReturn
from urllib.parse import urlsplit

import pytest
from pydantic import SecretStr

from slipway.cache.client import RedisClient
from slipway.cache.settings import RedisSettings

REDIS_URL_ENV = "SLIPWAY_TEST_REDIS_URL"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


def redis_test_url() -> str:
    """The URL of the Redis the tests share."""
    return os.environ.get(REDIS_URL_ENV) or DEFAULT_REDIS_URL


def reachable(host: str, port: int, timeout_seconds: float = 0.5) -> bool:
    """Whether something accepts TCP connections at host:port."""
    try:
        with socket.create_connection((host, port), timeout_seconds):
            return True
    except OSError:
        return False


def _require(reason: str) -> NoReturn:
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (required when CI is set)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The test Redis URL; skips (fails when CI is set) if Redis is unreachable."""
    url = redis_test_url()
    parts = urlsplit(url)
    if not reachable(parts.hostname or "127.0.0.1", parts.port or 6379):
        _require(f"Redis is not reachable at {parts.hostname}:{parts.port}; set {REDIS_URL_ENV}")
    return url


@pytest.fixture
def redis_settings(redis_url: str) -> RedisSettings:
    """Settings for the test Redis with a key prefix of this test's own."""
    return RedisSettings(url=SecretStr(redis_url), key_prefix=f"slipway-test:{uuid.uuid4().hex}:")


async def delete_keys(client: RedisClient) -> None:
    """Delete every key under the client's prefix."""
    keys = [key async for key in client.redis.scan_iter(match=client.key("*"))]
    if keys:
        await client.redis.delete(*keys)


@asynccontextmanager
async def started_redis_client(settings: RedisSettings) -> AsyncIterator[RedisClient]:
    """A started client; every key under its prefix is deleted when the block ends."""
    client = RedisClient(settings)
    await client.start()
    try:
        yield client
    finally:
        await delete_keys(client)
        await client.stop()


@pytest.fixture
async def redis_client(redis_settings: RedisSettings) -> AsyncIterator[RedisClient]:
    """A started client; every key under its prefix is deleted afterwards."""
    async with started_redis_client(redis_settings) as client:
        yield client


class PrivateRedisServer:
    """A `redis-server` of one test's own on a free port, without persistence."""

    def __init__(self, executable: str, workdir: Path) -> None:
        self.executable = executable
        self.workdir = workdir
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port: int = sock.getsockname()[1]
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Its URL (the same across restarts)."""
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def running(self) -> bool:
        """Whether the process is alive."""
        return self._process is not None and self._process.poll() is None

    def start(self, timeout_seconds: float = 10.0) -> None:
        """Start it and wait until it accepts connections; a no-op when it runs."""
        if self.running:
            return
        argv = [self.executable, "--port", str(self.port), "--bind", "127.0.0.1"]
        argv += ["--save", "", "--appendonly", "no", "--dir", str(self.workdir)]
        # The executable is the one shutil.which found; no argument comes from outside.
        process = subprocess.Popen(  # noqa: S603
            argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        self._process = process
        deadline = time.monotonic() + timeout_seconds
        while not reachable("127.0.0.1", self.port, 0.1):
            if process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"redis-server did not start on port {self.port}")
            time.sleep(0.02)

    def stop(self) -> None:
        """Stop it (its data is lost) and wait for the process to exit."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture
def private_redis_server(tmp_path: Path) -> Iterator[PrivateRedisServer]:
    """A started redis-server of this test's own; skips (fails on CI) without `redis-server`."""
    executable = shutil.which("redis-server")
    if executable is None:
        _require("redis-server is not on PATH")
    server = PrivateRedisServer(executable, tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()
