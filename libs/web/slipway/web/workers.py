"""Several worker processes on one listening socket, each a `DrainingServer` with its own app.

`serve_workers(factory, web)` binds `web.host:web.port` once and runs `web.workers` children
under uvicorn's own supervisor (`uvicorn.supervisors.Multiprocess`): the kernel spreads the
connections over the children accepting on the shared socket. Children are spawned, not
forked, so nothing is inherited but the socket: each one calls `factory()`, which loads the
settings, configures logging and builds the app, and the app's resources (database pools,
Redis clients) open in the child's own lifespan.

The parent only supervises: it restarts a child that dies after start-up, stops (exit 3)
when a child fails to start, and forwards SIGTERM/SIGINT to every child, which then drains
exactly as a single process does (`slipway.web.server`) before the parent exits 0. A SIGTERM
that reaches a child twice within `REPEATED_SIGNAL_SECONDS` (sent to the whole process group
or cgroup, and forwarded by the parent) counts once, so it does not cut the drain delay short.
"""

import logging
import os
import socket
import sys
import threading
from collections.abc import Callable
from typing import Any

import uvicorn
from fastapi import FastAPI
from uvicorn.config import STARTUP_FAILURE
from uvicorn.supervisors.multiprocess import Multiprocess, Process

from slipway.config import ConfigError
from slipway.web.server import DrainingServer, build_server
from slipway.web.settings import WebSettings

logger = logging.getLogger("uvicorn.error")

AppFactory = Callable[[], FastAPI]
"""Builds the app in a worker; a module-level function or a `functools.partial` (pickled)."""

REPEATED_SIGNAL_SECONDS = 1.0
# A spawned child imports the whole service before it can answer the parent's health check;
# on a loaded machine that takes longer than uvicorn's 5 s, and the child would be killed.
HEALTHCHECK_SECONDS = 30


class WorkerProcess(Process):
    """One child: builds its app and its `DrainingServer` itself, then serves the socket."""

    def __init__(
        self,
        config: uvicorn.Config,
        sockets: list[socket.socket],
        factory: AppFactory,
        options: dict[str, Any],
    ) -> None:
        self.factory = factory
        self.options = options
        self._draining_server: DrainingServer | None = None
        super().__init__(config, sockets)

    def pong(self) -> None:
        """Answer the parent's health check: alive, and started once the app is serving."""
        self.child_conn.recv()
        server = self._draining_server
        self.child_conn.send(server is not None and server.started)

    def target(self, sockets: list[socket.socket] | None = None) -> None:  # pragma: no cover
        """In the child: build the app, serve until a signal, exit 3 if it never started."""
        threading.Thread(target=self.always_pong, daemon=True).start()
        try:
            app = self.factory()
        except ConfigError as exc:
            print(exc, file=sys.stderr)
            sys.exit(STARTUP_FAILURE)
        server = build_server(app, **self.options)
        server.repeated_signal_seconds = REPEATED_SIGNAL_SECONDS
        self._draining_server = server
        server.run(sockets)
        if not server.started:
            sys.exit(STARTUP_FAILURE)


class WorkerSupervisor(Multiprocess):
    """uvicorn's supervisor, running `WorkerProcess` children; `startup_failed` after a failure."""

    def __init__(
        self,
        config: uvicorn.Config,
        sockets: list[socket.socket],
        factory: AppFactory,
        options: dict[str, Any],
    ) -> None:
        super().__init__(config, sockets)
        self.factory = factory
        self.options = options
        self.startup_failed = False

    def _spawn(self) -> WorkerProcess:
        process = WorkerProcess(self.config, self.sockets, self.factory, self.options)
        process.start()
        return process

    def init_processes(self) -> None:
        """Start every child."""
        for _ in range(self.processes_num):
            self.processes.append(self._spawn())

    def keep_subprocess_alive(self) -> None:
        """Replace a child that died or hangs; stop everything if one failed to start."""
        if self.should_exit.is_set():
            return
        for index, process in enumerate(self.processes):
            if process.is_alive(timeout=self.config.timeout_worker_healthcheck):
                continue
            process.kill()
            process.join()
            if process.exitcode == STARTUP_FAILURE:
                # The next child would fail the same way (uvicorn's own rule).
                logger.error("worker [%s] failed to start, stopping", process.pid)
                self.startup_failed = True
                self.should_exit.set()
                return
            if self.should_exit.is_set():
                return
            logger.info("worker [%s] died, starting another", process.pid)
            self.processes[index] = self._spawn()

    def restart_all(self) -> None:
        """SIGHUP: not supported; restart the service (its orchestrator rolls it)."""
        logger.warning("SIGHUP ignored: restart the service to replace its workers")

    def handle_ttin(self) -> None:
        """SIGTTIN: one more worker."""
        self.processes_num += 1
        self.processes.append(self._spawn())


def listening_socket(web: WebSettings) -> socket.socket:
    """The socket every worker accepts on, bound to `web.host:web.port` (as uvicorn binds)."""
    return uvicorn.Config(app="", host=web.host, port=web.port, log_config=None).bind_socket()


def serve_workers(factory: AppFactory, web: WebSettings, **options: Any) -> int:
    """Serve `factory()`'s app from `web.workers` processes until SIGTERM; the exit status.

    0 after every worker drained and stopped, 3 when a worker failed to start. `options` go
    to each worker's `build_server` (then `uvicorn.Config`) and must pickle.
    """
    sock = listening_socket(web)
    # The parent's config only carries what the supervisor reads; each child builds its own.
    config = uvicorn.Config(
        app="",
        host=web.host,
        port=web.port,
        workers=web.workers,
        log_config=None,
        access_log=False,
        timeout_worker_healthcheck=HEALTHCHECK_SECONDS,
    )
    supervisor = WorkerSupervisor(config, [sock], factory, options)
    try:
        supervisor.run()
    finally:
        sock.close()
    return STARTUP_FAILURE if supervisor.startup_failed else 0


def _children(pid: int) -> list[int]:
    children: list[int] = []
    try:
        threads = os.listdir(f"/proc/{pid}/task")
    except OSError:  # gone
        return children
    for thread in threads:
        try:
            with open(f"/proc/{pid}/task/{thread}/children", encoding="ascii") as listing:
                children.extend(int(child) for child in listing.read().split())
        except OSError:
            continue
    return children


def process_tree(pid: int) -> list[int]:
    """`pid` and every descendant alive now (Linux /proc), parents before children.

    Under `serve_workers` that is the supervisor, its workers and multiprocessing's
    resource tracker: what CPU and memory accounting of the service should add up.
    """
    tree = [pid]
    for parent in tree:
        tree.extend(_children(parent))
    return tree


def worker_pids(pid: int) -> list[int]:
    """The worker processes `serve_workers` in process `pid` runs now (Linux /proc)."""
    workers = []
    for child in _children(pid):
        try:
            with open(f"/proc/{child}/cmdline", "rb") as cmdline:
                arguments = cmdline.read().split(b"\0")
        except OSError:
            continue
        if b"--multiprocessing-fork" in arguments:  # not the resource tracker
            workers.append(child)
    return workers


__all__ = [
    "REPEATED_SIGNAL_SECONDS",
    "AppFactory",
    "WorkerProcess",
    "WorkerSupervisor",
    "listening_socket",
    "process_tree",
    "serve_workers",
    "worker_pids",
]
