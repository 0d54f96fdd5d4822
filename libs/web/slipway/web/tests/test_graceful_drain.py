"""SIGTERM under keep-alive load on a real uvicorn process: no request is lost to the close.

Without `Connection: close` during the drain, clients keep reusing their connections until
the listener closes, and uvicorn closes those that look idle while a request is already on
its way: the client gets a reset. Clients that reconnect after each `Connection: close`
instead sit in the kernel's accept queue, which closing the listener resets. Both runs
below must see no such failure; connects refused after the close carried no request.
"""

import asyncio
import os
import signal
import sys
import time
from pathlib import Path

import pytest

from slipway.web.tests import sigterm_app
from slipway.web.tests.drain_client import Load, run_load
from slipway.web.tests.test_graceful_shutdown import _free_port, _wait_until_up

WORKERS = 64
DRAIN_DELAY = 1.0  # sigterm_app's drain_delay_seconds
PATH = "/slow?seconds=0.002"


async def _sigterm_under_load(tmp_path: Path, *, reconnect: bool) -> tuple[Load, float, str]:
    """Load the server, SIGTERM it once warm, keep loading past the listener's close."""
    port = _free_port()
    log_path = tmp_path / "server.log"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(sys.path),
        "SIGTERM_APP_PORT": str(port),
        "SIGTERM_APP_JOURNAL": str(tmp_path / "journal"),
    }
    with log_path.open("wb") as output:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", sigterm_app.__name__, env=env, stdout=output, stderr=output
        )
        try:
            await _wait_until_up(f"http://127.0.0.1:{port}", process)
            stop = asyncio.Event()
            term: list[float] = []

            def may_reconnect() -> bool:
                return reconnect or not term

            load = Load()
            load_task = asyncio.create_task(
                run_load(
                    "127.0.0.1",
                    port,
                    PATH,
                    workers=WORKERS,
                    stop=stop,
                    reconnect=may_reconnect,
                    load=load,
                )
            )
            for _ in range(400):  # at most 20 s for every worker to be up and reusing
                if len(load.outcomes) >= 10 * WORKERS:
                    break
                await asyncio.sleep(0.05)
            term.append(time.monotonic())
            process.send_signal(signal.SIGTERM)
            await asyncio.sleep(DRAIN_DELAY + 1.0)
            stop.set()
            await asyncio.wait_for(load_task, 30)
            exit_code = await asyncio.wait_for(process.wait(), 30)
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
    log = log_path.read_text()
    assert exit_code == 0, log
    return load, term[0], log


@pytest.mark.slow
async def test_keep_alive_clients_lose_nothing_and_are_told_to_close(tmp_path: Path) -> None:
    load, term, log = await _sigterm_under_load(tmp_path, reconnect=False)

    summary = load.summary()
    assert load.failures() == [], (summary, log)
    # Every worker's connection ended with a whole response saying Connection: close, none
    # was left open for the listener's close; requests sent once draining had begun all
    # carried it.
    assert summary.get("ok", 0) > 0, summary  # connections were reused before SIGTERM
    assert summary == {"ok": summary["ok"], "ok_close": WORKERS}, summary
    late = [o for o in load.outcomes if o.sent_at > term + 0.05]
    assert all(o.connection_close for o in late), summary


@pytest.mark.slow
async def test_reconnecting_clients_lose_nothing_when_the_listener_closes(tmp_path: Path) -> None:
    load, term, log = await _sigterm_under_load(tmp_path, reconnect=True)

    summary = load.summary(since=term)
    assert load.failures() == [], (summary, log)
    assert summary.get("refused", 0) > 0, summary  # the load went on past the close
    assert summary.get("ok_close", 0) > WORKERS, summary  # and reconnected during the drain
