"""SIGTERM to a real uvicorn process: readiness flips, in-flight requests all finish."""

import asyncio
import os
import signal
import socket
import sys
import time
from pathlib import Path

import httpx
import pytest

from slipway.web.tests import sigterm_app

IN_FLIGHT = 20


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def _wait_until_up(base_url: str, process: asyncio.subprocess.Process) -> None:
    deadline = time.monotonic() + 20
    async with httpx.AsyncClient(base_url=base_url) as client:
        while time.monotonic() < deadline:
            assert process.returncode is None, "the server exited during start-up"
            try:
                if (await client.get("/health")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError("the server did not come up within 20 s")


@pytest.mark.slow
async def test_sigterm_drains_then_finishes_in_flight_requests(tmp_path: Path) -> None:
    port = _free_port()
    base_url = f"http://127.0.0.1:{port}"
    journal = tmp_path / "journal"
    output = (tmp_path / "server.log").open("wb")
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(sys.path),
        "SIGTERM_APP_PORT": str(port),
        "SIGTERM_APP_JOURNAL": str(journal),
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", sigterm_app.__name__, env=env, stdout=output, stderr=output
    )
    try:
        await _wait_until_up(base_url, process)
        limits = httpx.Limits(max_connections=IN_FLIGHT + 5)
        async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=30) as client:
            in_flight = [
                asyncio.create_task(client.get("/slow", params={"seconds": 2.0}))
                for _ in range(IN_FLIGHT)
            ]
            await asyncio.sleep(0.5)
            process.send_signal(signal.SIGTERM)
            await asyncio.sleep(0.2)
            async with httpx.AsyncClient(base_url=base_url) as probe:
                ready = await probe.get("/ready")
                health = await probe.get("/health")
            responses = await asyncio.gather(*in_flight)
        exit_code = await asyncio.wait_for(process.wait(), 30)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        output.close()
    log = (tmp_path / "server.log").read_text()

    assert ready.status_code == 503, log
    assert ready.json()["draining"] is True
    assert health.status_code == 200  # still serving during the drain
    assert [r.status_code for r in responses] == [200] * IN_FLIGHT, log
    assert exit_code == 0, log
    assert journal.read_text() == f"started\nstopped after {IN_FLIGHT}\n", log
