"""`web.workers = 2`: two real worker processes on one port, a shared limit, a shared replay.

Each test runs `python -m slipway.web.tests.workers_app` (a `Service`) with real Redis and a
SQLite file, as a service runs in production.
"""

import asyncio
import os
import signal
import socket
import sys
import time
import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from slipway.db import idempotency_table
from slipway.web.tests import workers_app
from slipway.web.workers import worker_pids

REDIS_URL = "redis://127.0.0.1:6379/0"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Running:
    """A started workers_app: its parent process, URL and output file."""

    process: asyncio.subprocess.Process
    base_url: str
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def _environment(tmp_path: Path, port: int, settings: Mapping[str, str]) -> dict[str, str]:
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("WORKERS_APP_")}
    return {
        **inherited,
        "PYTHONPATH": os.pathsep.join(sys.path),
        "WORKERS_APP_ENVIRONMENT": "test",
        "WORKERS_APP_WEB__PORT": str(port),
        "WORKERS_APP_WEB__DRAIN_DELAY_SECONDS": "1",
        **settings,
    }


async def _start(tmp_path: Path, settings: Mapping[str, str]) -> Running:
    port = _free_port()
    log = tmp_path / "server.log"
    with log.open("wb") as output:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            workers_app.__name__,
            env=_environment(tmp_path, port, settings),
            stdout=output,
            stderr=output,
            start_new_session=True,  # its own process group, as under a process manager
        )
    return Running(process, f"http://127.0.0.1:{port}", log)


async def _wait_until_ready(running: Running, workers: int) -> None:
    """Until each of the `workers` worker processes has answered /health (rate-limit exempt)."""
    deadline = time.monotonic() + 90
    answered: set[int] = set()
    async with httpx.AsyncClient(base_url=running.base_url) as client:
        while time.monotonic() < deadline:
            assert running.process.returncode is None, running.output()
            try:
                response = await client.get("/health", headers={"connection": "close"})
                answered.add(int(response.headers["x-worker-pid"]))
            except httpx.TransportError:
                await asyncio.sleep(0.1)
            current = set(worker_pids(running.process.pid))
            if len(current) == workers and answered >= current:
                return
    raise AssertionError(f"not every worker served within 90 s:\n{running.output()}")


@asynccontextmanager
async def serving(
    tmp_path: Path, settings: Mapping[str, str], *, workers: int = 2
) -> AsyncIterator[Running]:
    """workers_app with `workers` processes, stopped (SIGKILL to the group) after the block."""
    running = await _start(tmp_path, {"WORKERS_APP_WEB__WORKERS": str(workers), **settings})
    try:
        await _wait_until_ready(running, workers)
        yield running
    finally:
        if running.process.returncode is None:
            os.killpg(running.process.pid, signal.SIGKILL)
            await running.process.wait()


async def _pids_seen(client: httpx.AsyncClient, requests: int) -> set[int]:
    """The worker pids answering `requests` requests, each on a new connection."""
    seen: set[int] = set()
    for _ in range(requests):
        response = await client.get("/pid", headers={"connection": "close"})
        assert response.status_code == 200
        seen.add(response.json()["pid"])
    return seen


async def _until_both_seen(client: httpx.AsyncClient, pids: set[int]) -> set[int]:
    seen: set[int] = set()
    for _ in range(20):
        seen |= await _pids_seen(client, 20)
        if seen >= pids:
            break
    return seen


@pytest.mark.slow
async def test_two_workers_on_one_port_both_serve(tmp_path: Path) -> None:
    async with serving(tmp_path, {"WORKERS_APP_WEB__RATE_LIMIT__ENABLED": "false"}) as running:
        children = set(worker_pids(running.process.pid))
        async with httpx.AsyncClient(base_url=running.base_url) as client:
            seen = await _until_both_seen(client, children)

    assert len(children) == 2, running.output()
    assert seen == children, running.output()


@pytest.mark.slow
@pytest.mark.integration
async def test_redis_rate_limit_allows_exactly_the_limit_across_workers(tmp_path: Path) -> None:
    limit = 30
    settings = {
        "WORKERS_APP_REDIS__URL": REDIS_URL,
        "WORKERS_APP_REDIS__KEY_PREFIX": f"workers-test-{uuid.uuid4().hex}:",
        "WORKERS_APP_WEB__RATE_LIMIT__REQUESTS": str(limit),
        "WORKERS_APP_WEB__RATE_LIMIT__WINDOW_SECONDS": "3600",
    }
    async with (
        serving(tmp_path, settings) as running,
        httpx.AsyncClient(base_url=running.base_url) as client,
    ):
        responses = [
            await client.get("/pid", headers={"connection": "close"}) for _ in range(limit + 10)
        ]
    allowed = [r for r in responses if r.status_code == 200]
    pids = {r.json()["pid"] for r in allowed}

    assert len(pids) == 2, running.output()  # both workers counted against the one bucket
    assert len(allowed) == limit, running.output()
    assert {r.status_code for r in responses[limit:]} == {429}


@pytest.mark.slow
async def test_idempotent_post_replays_from_the_other_worker(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'keys.db'}"
    engine = sa.create_engine(url)
    metadata = sa.MetaData()
    idempotency_table(metadata)
    metadata.create_all(engine)
    engine.dispose()
    settings = {
        "WORKERS_APP_WEB__RATE_LIMIT__ENABLED": "false",
        "WORKERS_APP_IDEMPOTENCY_DATABASE": f"sqlite+aiosqlite:///{tmp_path / 'keys.db'}",
    }
    async with serving(tmp_path, settings) as running:
        children = {str(pid) for pid in worker_pids(running.process.pid)}
        async with httpx.AsyncClient(base_url=running.base_url) as client:
            headers = {"idempotency-key": "order-1", "connection": "close"}
            first = await client.post("/orders", headers=headers)
            replays: list[httpx.Response] = []
            while len(replays) < 200 and {r.headers["x-worker-pid"] for r in replays} != children:
                replays.append(await client.post("/orders", headers=headers))

    assert first.status_code == 201, running.output()
    assert {r.headers["x-worker-pid"] for r in replays} == children, running.output()
    assert {(r.status_code, r.content) for r in replays} == {(201, first.content)}
    assert {r.headers.get("idempotent-replayed") for r in replays} == {"true"}


@pytest.mark.slow
@pytest.mark.parametrize("to_group", [False, True], ids=["parent-only", "process-group"])
async def test_sigterm_drains_every_worker(tmp_path: Path, to_group: bool) -> None:
    journal = tmp_path / "journal"
    journal.mkdir()
    settings = {
        "WORKERS_APP_WEB__RATE_LIMIT__ENABLED": "false",
        "WORKERS_APP_JOURNAL": str(journal),
    }
    async with serving(tmp_path, settings) as running:
        children = set(worker_pids(running.process.pid))
        limits = httpx.Limits(max_connections=30)
        async with httpx.AsyncClient(
            base_url=running.base_url, limits=limits, timeout=30
        ) as client:
            in_flight = [
                asyncio.create_task(
                    client.get("/slow", params={"seconds": 2.0}, headers={"connection": "close"})
                )
                for _ in range(20)
            ]
            await asyncio.sleep(0.5)
            if to_group:  # as systemd or a terminal: every worker gets it twice
                os.killpg(running.process.pid, signal.SIGTERM)
            else:  # as Kubernetes: the parent (PID 1) forwards it
                running.process.send_signal(signal.SIGTERM)
            # uvicorn's supervisor handles signals on its 0.5 s loop: poll, while the
            # 2 s requests are still in flight (a closed socket would fail the probe).
            async with httpx.AsyncClient(base_url=running.base_url) as probe:
                for _ in range(15):
                    await asyncio.sleep(0.1)
                    ready = await probe.get("/ready", headers={"connection": "close"})
                    if ready.status_code == 503:
                        break
            responses = await asyncio.gather(*in_flight)
        exit_code = await asyncio.wait_for(running.process.wait(), 30)
    answered_by = {r.json()["pid"] for r in responses if r.status_code == 200}
    journals = {int(path.name): path.read_text() for path in journal.iterdir()}

    assert ready.status_code == 503, running.output()  # draining, not closed
    assert [r.status_code for r in responses] == [200] * 20, running.output()
    # Which worker accepts which connection is the kernel's choice: both stop cleanly below.
    assert answered_by <= children, running.output()
    assert exit_code == 0, running.output()
    assert set(journals) == children
    stops = [text.splitlines()[-1] for text in journals.values()]
    assert sum(int(line.removeprefix("stopped after ")) for line in stops) == 20, journals


@pytest.mark.parametrize(
    ("settings", "names"),
    [
        ({}, ["WORKERS_APP_WEB__RATE_LIMIT__ENABLED=false"]),
        (
            {
                "WORKERS_APP_WEB__RATE_LIMIT__ENABLED": "false",
                "WORKERS_APP_MEMORY_IDEMPOTENCY": "true",
            },
            ["InMemoryIdempotencyStore", "SqlIdempotencyStore"],
        ),
        (
            {
                "WORKERS_APP_WEB__RATE_LIMIT__ENABLED": "false",
                "WORKERS_APP_IDEMPOTENCY_DATABASE": "sqlite+aiosqlite:///:memory:",
            },
            ["database (Database)", "in-memory SQLite", "a SQLite file or PostgreSQL"],
        ),
    ],
    ids=["memory-rate-limit", "memory-idempotency", "memory-sqlite"],
)
async def test_state_kept_in_one_process_is_refused_with_two_workers(
    tmp_path: Path, settings: dict[str, str], names: list[str]
) -> None:
    running = await _start(tmp_path, {"WORKERS_APP_WEB__WORKERS": "2", **settings})
    exit_code = await asyncio.wait_for(running.process.wait(), 60)
    output = running.output()

    assert exit_code == 2, output
    assert output.startswith("Invalid configuration for Settings:\n"), output
    assert "WORKERS_APP_WEB__WORKERS=2" in output
    assert all(name in output for name in names), output
    assert "Traceback" not in output
