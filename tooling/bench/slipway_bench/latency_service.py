"""The contexts service as the latency benchmark runs it: its environment and its process.

The service is started as `python -m contexts.main`, its own entry point, configured only
through `CONTEXTS_*` variables. Their names are derived at run time from the fields of
`contexts.settings.Settings`, so a renamed setting fails here with a message naming it, and a
configuration the service refuses fails with the service's own one-screen error.
"""

import asyncio
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Collection, Iterator, Mapping
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from types import NoneType, UnionType
from typing import IO, Any, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic_settings import BaseSettings

import contexts.main
from contexts.migrations import MIGRATIONS_DIR
from contexts.settings import Settings
from slipway.config import env_var_name
from slipway.db.migrations import upgrade
from slipway.web.workers import process_tree, worker_pids
from slipway_bench.procfs import process_cpu_seconds
from slipway_bench.server import HOST, child_pythonpath

READY_TIMEOUT_S = 90.0
# A worker that used less CPU than this over IDLE_SAMPLE_S has finished its start-up.
IDLE_CPU_S = 0.05
IDLE_SAMPLE_S = 0.5
# Measured, never refused: the default (600 per minute per principal) would answer 429.
UNLIMITED_REQUESTS = 1_000_000_000


class SettingMissingError(RuntimeError):
    """The service's settings have no field the benchmark needs to set."""


def _model_of(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model behind a field's annotation (`X`, `X | None`), if any."""
    if get_origin(annotation) in (Union, UnionType):
        models = [a for a in get_args(annotation) if a is not NoneType]
        annotation = models[0] if len(models) == 1 else None
    return (
        annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None
    )


def has_setting(settings_cls: type[BaseModel], *path: str) -> bool:
    """Whether `settings_cls` has the (nested) field `path`, e.g. ("events", "stream_prefix")."""
    model: type[BaseModel] | None = settings_cls
    for name in path:
        if model is None or name not in model.model_fields:
            return False
        model = _model_of(model.model_fields[name].annotation)
    return True


def setting_default(settings_cls: type[BaseModel], *path: str) -> Any:
    """The default of the (nested) field `path`; `SettingMissingError` if there is none."""
    if not has_setting(settings_cls, *path):
        raise SettingMissingError(f"{settings_cls.__name__} has no setting {'.'.join(path)}")
    model: type[BaseModel] = settings_cls
    for name in path[:-1]:
        inner = _model_of(model.model_fields[name].annotation)
        if inner is None:  # unreachable: has_setting walked the same path
            raise SettingMissingError(f"{settings_cls.__name__}.{name} is not a model")
        model = inner
    return model.model_fields[path[-1]].get_default(call_default_factory=True)


def environment_for(
    settings_cls: type[BaseSettings], values: Mapping[tuple[str, ...], str]
) -> dict[str, str]:
    """The variables setting each (nested) field path to its value; refuses unknown fields."""
    missing = [".".join(path) for path in values if not has_setting(settings_cls, *path)]
    if missing:
        raise SettingMissingError(
            f"the contexts service has no setting {', '.join(missing)}: update"
            f" slipway_bench.latency_service to the new settings"
        )
    return {env_var_name(settings_cls, *path): value for path, value in values.items()}


def web_service_values(port: int, database_url: str) -> dict[tuple[str, ...], str]:
    """The settings every benchmarked service (contexts, search) gets, by field path.

    Development (HS256 development tokens are refused otherwise), JSON logs, on `port` of
    `HOST`, no drain delay, no rate limit to speak of, on `database_url`, migrated at start.
    """
    return {
        ("environment",): "development",
        ("log_level",): "INFO",
        ("log_renderer",): "json",
        ("web", "host"): HOST,
        ("web", "port"): str(port),
        ("web", "drain_delay_seconds"): "0",
        ("web", "rate_limit", "requests"): str(UNLIMITED_REQUESTS),
        ("web", "rate_limit", "window_seconds"): "1",
        ("database", "url"): database_url,
        ("migrate_on_startup",): "true",
    }


def service_settings(
    port: int, database_url: str, redis_url: str | None, stream_prefix: str | None
) -> dict[tuple[str, ...], str]:
    """The settings the benchmark gives the service, by field path (see the module docstring)."""
    values = web_service_values(port, database_url)
    if redis_url is not None:
        values[("redis", "url")] = redis_url
    if stream_prefix is not None:
        values[("events", "stream_prefix")] = stream_prefix
    return values


def _log_tail(log: Path) -> str:
    return "\n".join(log.read_text(encoding="utf-8", errors="replace").splitlines()[-25:])


@dataclass(frozen=True)
class RunningService:
    """A started service: where it listens and its process id (for CPU accounting).

    With `web.workers > 1`, `pid` is the supervisor; `pids()` is the whole tree (the
    supervisor, its workers, multiprocessing's resource tracker), what CPU and RSS
    accounting must add up, and `workers()` the worker processes alone.
    """

    base_url: str
    pid: int

    def pids(self) -> list[int]:
        """The service's processes alive now, the supervisor first."""
        return process_tree(self.pid)

    def workers(self) -> list[int]:
        """The worker processes (empty when the service runs in one process)."""
        return worker_pids(self.pid)


def _busy(pids: Collection[int]) -> list[int]:
    before = {pid: process_cpu_seconds(pid) for pid in pids}
    time.sleep(IDLE_SAMPLE_S)
    return [pid for pid in pids if process_cpu_seconds(pid) - before[pid] >= IDLE_CPU_S]


def _wait_until_workers_started(
    service: RunningService, workers: int, process: subprocess.Popen[bytes], log: Path
) -> None:
    """Until `workers` workers run and all are idle: /ready answers from the first one up."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"the contexts service exited {process.returncode}:\n{_log_tail(log)}"
            )
        current = service.workers()
        if len(current) == workers and not _busy(current):
            return
        time.sleep(0.1)
    raise RuntimeError(f"{workers} workers not started within {READY_TIMEOUT_S:.0f}s")


def _migrate_once(settings: Mapping[tuple[str, ...], str]) -> None:
    """Migrate before several workers start: each worker's own run then finds the head."""
    if settings.get(("migrate_on_startup",)) == "true" and ("database", "url") in settings:
        asyncio.run(upgrade(settings[("database", "url")], MIGRATIONS_DIR))


def _wait_until_ready(
    base_url: str, process: subprocess.Popen[bytes], log: Path, name: str = "contexts"
) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"the {name} service exited {process.returncode} at start-up (a refused"
                f" configuration exits 2); its output:\n{_log_tail(log)}"
            )
        try:
            with urllib.request.urlopen(f"{base_url}/ready", timeout=2) as response:  # noqa: S310
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.25)
    raise RuntimeError(
        f"{base_url}/ready not ready within {READY_TIMEOUT_S:.0f}s:\n{_log_tail(log)}"
    )


@dataclass(frozen=True)
class ServiceProgram:
    """A service the benches start: its name, its `python -m` module, its settings class
    (whose `env_prefix` the variables get; the caller's own are dropped)."""

    name: str
    module: str
    settings: type[BaseSettings]

    @property
    def env_prefix(self) -> str:
        return str(self.settings.model_config.get("env_prefix", ""))


CONTEXTS = ServiceProgram("contexts", contexts.main.__name__, Settings)


@contextmanager
def running_service(
    settings: Mapping[tuple[str, ...], str],
    workdir: Path,
    *,
    cpu: int | Collection[int] | None,
    program: ServiceProgram = CONTEXTS,
    stdout: Path | None = None,
) -> Iterator[RunningService]:
    """Run `python -m <program.module>` (contexts by default) in `workdir` (pinned to `cpu`)
    until the block ends.

    Its stdout (the JSON log, access lines included) goes to /dev/null, or to the file
    `stdout` (created or emptied).

    `cpu` is one core or a set of them (several workers: `("web", "workers")` in
    `settings`); the workers inherit it. The block starts once every worker is serving.
    """
    workers = int(settings.get(("web", "workers"), "1"))
    if workers > 1:  # concurrent Alembic runs would race on a fresh database
        _migrate_once(settings)
    cpus = None if cpu is None else ({cpu} if isinstance(cpu, int) else set(cpu))
    prefix = program.env_prefix
    inherited = {k: v for k, v in os.environ.items() if not k.startswith(prefix)}
    env = {
        **inherited,
        **environment_for(program.settings, settings),
        "PYTHONPATH": child_pythonpath(),
    }
    log = workdir / f"{program.name}.stderr.log"
    with ExitStack() as files:
        stderr = files.enter_context(log.open("wb"))
        out: int | IO[bytes] = (
            subprocess.DEVNULL if stdout is None else files.enter_context(stdout.open("wb"))
        )
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", program.module],
            cwd=workdir,  # no stray .env file, no ./contexts.db of someone else's
            stdout=out,  # the JSON log: rendered, and by default discarded
            stderr=stderr,
            env=env,
            preexec_fn=None if cpus is None else lambda: os.sched_setaffinity(0, cpus),
            start_new_session=workers > 1,  # one process group: `os.killpg` reaches all
        )
    base_url = f"http://{HOST}:{settings[('web', 'port')]}"
    service = RunningService(base_url=base_url, pid=process.pid)
    try:
        _wait_until_ready(base_url, process, log, program.name)
        if workers > 1:
            _wait_until_workers_started(service, workers, process, log)
        yield service
    finally:
        process.terminate()  # the supervisor forwards it to every worker, which drains
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            for pid in reversed(service.pids()):
                with suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
            process.wait()
