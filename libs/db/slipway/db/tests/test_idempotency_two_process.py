"""Evidence: two uvicorn processes on one PostgreSQL run a request once per Idempotency-Key.

Each round sends 50 concurrent first requests under one new key, split across both processes;
the handler writes one row. Every round must leave exactly one row and 50 responses with the
same status, stored headers and body bytes: the one that ran and 49 replays of it.
"""

import asyncio
import os
import signal
import socket
import sys
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from slipway.db import Database
from slipway.db.testing import throwaway_postgres_database, throwaway_sqlite_database
from slipway.db.tests import idempotency_app
from slipway.db.tests.idempotency_app import METADATA, ORDERS

CONCURRENT = 50
STORED_HEADERS = ("content-type", "location", "content-length")


def _listening_port() -> int:
    """A port free right now on 127.0.0.1 (the OS picks it)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def _ready(base_url: str, process: asyncio.subprocess.Process, log: Path) -> None:
    """Return once `/ready` answers 200; fail with the server's log if it never does."""
    async with httpx.AsyncClient(base_url=base_url, timeout=2) as client:
        for _ in range(300):
            if process.returncode is not None:
                break
            try:
                if (await client.get("/ready")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    output = await asyncio.to_thread(log.read_text)
    raise AssertionError(f"{base_url} never became ready:\n{output}")


@asynccontextmanager
async def _serving(database_url: str, log: Path) -> AsyncIterator[str]:
    """One uvicorn process of the idempotency app; yields its base URL, SIGTERMs it on exit."""
    port = _listening_port()
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(sys.path),
        "IDEMPOTENCY_APP_PORT": str(port),
        "IDEMPOTENCY_APP_DATABASE_URL": database_url,
    }
    with log.open("wb") as output:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", idempotency_app.__name__, env=env, stdout=output, stderr=output
        )
    try:
        await _ready(f"http://127.0.0.1:{port}", process, log)
        yield f"http://127.0.0.1:{port}"
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), 15)
            except TimeoutError:
                process.kill()
                await process.wait()


async def _create_tables(database: Database) -> None:
    async with database.engine.begin() as connection:
        await connection.run_sync(METADATA.create_all)


async def _orders_of(database: Database, item: str) -> int:
    statement = sa.select(sa.func.count()).select_from(ORDERS).where(ORDERS.c.item == item)
    async with database.engine.connect() as connection:
        return int((await connection.execute(statement)).scalar_one())


async def _round(
    clients: Sequence[httpx.AsyncClient], delay_seconds: float
) -> list[httpx.Response]:
    """50 concurrent first requests under one new key, dealt round-robin to the processes."""
    key = uuid.uuid4().hex
    body = {"item": key, "quantity": 3, "delay_seconds": delay_seconds}
    headers = {"idempotency-key": key}
    return await asyncio.gather(
        *(
            clients[n % len(clients)].post("/v1/orders", json=body, headers=headers)
            for n in range(CONCURRENT)
        )
    )


def _what_the_client_sees(response: httpx.Response) -> tuple[int, tuple[str | None, ...], bytes]:
    return (
        response.status_code,
        tuple(response.headers.get(name) for name in STORED_HEADERS),
        response.content,
    )


async def _run_rounds(
    database: Database, tmp_path: Path, processes: int, delays: Sequence[float]
) -> None:
    url = database.url.render_as_string(hide_password=False)
    await _create_tables(database)
    async with AsyncExitStack() as stack:
        base_urls = [
            await stack.enter_async_context(_serving(url, tmp_path / f"server-{n}.log"))
            for n in range(processes)
        ]
        limits = httpx.Limits(max_connections=CONCURRENT)
        clients = [
            await stack.enter_async_context(
                httpx.AsyncClient(base_url=base_url, limits=limits, timeout=30)
            )
            for base_url in base_urls
        ]
        for delay in delays:
            responses = await _round(clients, delay)
            seen = {_what_the_client_sees(response) for response in responses}
            key = responses[0].request.headers["idempotency-key"]

            assert len(seen) == 1, seen
            assert responses[0].status_code == 201
            assert await _orders_of(database, key) == 1
            replayed = [response.headers.get("idempotent-replayed") for response in responses]
            assert replayed.count("true") == CONCURRENT - 1


@pytest.mark.integration
@pytest.mark.slow
async def test_two_processes_on_one_postgres_run_a_key_once_with_identical_responses(
    postgres_url: str, tmp_path: Path
) -> None:
    async with throwaway_postgres_database(postgres_url) as database:
        await _run_rounds(database, tmp_path, processes=2, delays=[0.0, 0.3, 0.0, 0.3])


@pytest.mark.slow
async def test_one_process_on_sqlite_runs_a_key_once_with_identical_responses(
    tmp_path: Path,
) -> None:
    async with throwaway_sqlite_database(tmp_path) as database:
        await _run_rounds(database, tmp_path, processes=1, delays=[0.0, 0.3])
