"""The stack's processes for the end-to-end tests, started the way `stack` starts them.

The same Procfile lines, run by honcho's own `Popen` (a shell, in a session of its own) with
the same environment (`stack_environment`), except that each one writes to a log file of
the test's instead of honcho's printer, and that any one can be killed and restarted alone.
"""

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

import httpx
from honcho.process import Popen  # type: ignore[import-untyped]
from pydantic import SecretStr

from slipway.cache import RedisSettings
from slipway.cache.testing import reachable, redis_test_url, started_redis_client
from slipway.db.settings import async_url
from slipway.db.testing import (
    execute_outside_transaction,
    postgres_test_url,
    postgres_unreachable_reason,
    require_server,
)
from slipway_stack.config import StackConfig
from slipway_stack.plan import (
    CONTEXTS_AUDIENCE,
    SEARCH_AUDIENCE,
    USER_SCOPES,
    process_environment,
    processes,
    stack_environment,
    write_clients_file,
)
from slipway_stack.servers import ensure_databases

START_TIMEOUT_SECONDS = 90.0
STOP_TIMEOUT_SECONDS = 10.0


class RunningStack:
    """The stack's three processes for one test: start, kill and restart each one."""

    def __init__(
        self, config: StackConfig, workdir: Path, extra_env: Mapping[str, str] | None = None
    ) -> None:
        self.config = config
        self.workdir = workdir
        self.specs = {process.name: process for process in processes()}
        stack = stack_environment(config, python=sys.executable, pythonpath=sys.path)
        self.environment = process_environment({**stack, **(extra_env or {})})
        self.children: dict[str, subprocess.Popen[bytes]] = {}
        self._logs: dict[str, IO[bytes]] = {}
        self.starts: dict[str, int] = {}
        write_clients_file(config)

    def urls(self) -> dict[str, str]:
        """Each process's base URL."""
        return {
            "authz": self.config.authz_url,
            "contexts": self.config.contexts_url,
            "search": self.config.search_url,
        }

    def log_path(self, name: str) -> Path:
        """Where `name`'s output goes (appended across restarts)."""
        return self.workdir / f"{name}.log"

    def start(self, name: str) -> None:
        """Start the Procfile's `name` process (as honcho would), output to its log."""
        log = self._logs.get(name) or open(self.log_path(name), "ab")  # noqa: SIM115
        self._logs[name] = log
        self.starts[name] = self.starts.get(name, 0) + 1
        log.write(f"--- start {self.starts[name]} ---\n".encode())
        log.flush()
        self.children[name] = Popen(
            self.specs[name].command,
            env=self.environment,
            cwd=str(self.workdir),
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def start_all(self) -> None:
        """Start every process at once (contexts and search wait for their dependencies)."""
        for name in self.specs:
            self.start(name)

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        """Send `sig` to `name`'s whole process group and wait until it has exited."""
        child = self.children.pop(name, None)
        if child is None or child.poll() is not None:
            return
        try:
            os.killpg(child.pid, sig)
        except ProcessLookupError:
            return
        try:
            child.wait(STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()

    def stop_all(self) -> None:
        """Stop every process (SIGTERM, then SIGKILL) and close the logs."""
        for name in list(self.children):
            self.kill(name, signal.SIGTERM)
        for log in self._logs.values():
            log.close()
        self._logs.clear()

    def logs(self, limit: int = 4000) -> str:
        """The end of every process's log, for a failing assertion's message."""
        parts = []
        for name in self.specs:
            path = self.log_path(name)
            if path.exists():
                text = path.read_bytes()[-limit:].decode(errors="replace")
                parts.append(f"===== {name} =====\n{text}")
        return "\n".join(parts)

    async def wait_ready(self, name: str, timeout_seconds: float = START_TIMEOUT_SECONDS) -> None:
        """Wait until `name` answers `/ready` with 200 (the authorization server: discovery)."""
        url = self.urls()[name]
        path = "/.well-known/openid-configuration" if name == "authz" else "/ready"
        deadline = time.monotonic() + timeout_seconds
        async with httpx.AsyncClient(timeout=2.0, trust_env=False) as client:
            while True:
                child = self.children.get(name)
                if child is None or child.poll() is not None:
                    raise AssertionError(f"{name} exited before it was ready\n{self.logs()}")
                try:
                    if (await client.get(url + path)).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise AssertionError(
                        f"{name} not ready in {timeout_seconds:g} s\n{self.logs()}"
                    )
                await asyncio.sleep(0.1)

    async def wait_all_ready(self) -> None:
        """Wait until all three are ready."""
        await asyncio.gather(*(self.wait_ready(name) for name in self.specs))

    async def user_token(self, subject: str = "alice", **extra: Any) -> str:
        """A development user token for contexts and search, from the authorization server."""
        body = {
            "sub": subject,
            "scopes": list(USER_SCOPES),
            "audience": [CONTEXTS_AUDIENCE, SEARCH_AUDIENCE],
            **extra,
        }
        async with httpx.AsyncClient(timeout=5.0, trust_env=False) as client:
            response = await client.post(f"{self.config.authz_url}/dev/token", json=body)
        response.raise_for_status()
        return str(response.json()["access_token"])

    async def rotate(self) -> dict[str, Any]:
        """Make the authorization server's next signing key current."""
        async with httpx.AsyncClient(timeout=5.0, trust_env=False) as client:
            response = await client.post(f"{self.config.authz_url}/dev/rotate")
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result


def free_port() -> int:
    """A port nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@asynccontextmanager
async def running_stack(
    workdir: Path, extra_env: Mapping[str, str] | None = None
) -> AsyncIterator[RunningStack]:
    """The three processes on PostgreSQL + Redis with `extra_env`, ready; removed after."""
    postgres = postgres_test_url()
    require_server(postgres_unreachable_reason(postgres))
    redis_url = redis_test_url()
    redis_parts = urlsplit(redis_url)
    if not reachable(redis_parts.hostname or "127.0.0.1", redis_parts.port or 6379):
        require_server(f"Redis is not reachable at {redis_url}")
    suffix = uuid.uuid4().hex[:16]
    config = StackConfig(
        authz_port=free_port(),
        contexts_port=free_port(),
        search_port=free_port(),
        state_dir=workdir / "state",
        postgres_url=postgres,
        contexts_database=f"slipway_test_{suffix}_contexts",
        search_database=f"slipway_test_{suffix}_search",
        redis_url=redis_url,
        redis_key_prefix=f"slipway-test:{suffix}:",
    )
    await ensure_databases(postgres, (config.contexts_database, config.search_database))
    running = RunningStack(config, workdir, extra_env=extra_env)
    try:
        running.start_all()
        await running.wait_all_ready()
        yield running
    finally:
        running.stop_all()
        for name in (config.contexts_database, config.search_database):
            await execute_outside_transaction(
                async_url(postgres), f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'
            )
        settings = RedisSettings(url=SecretStr(redis_url), key_prefix=config.redis_key_prefix)
        async with started_redis_client(settings):
            pass  # deletes every key under the prefix
