"""A service for the worker tests: `python -m slipway.web.tests.workers_app` (env configures).

`WORKERS_APP_WEB__WORKERS` sets the worker count; `WORKERS_APP_REDIS__URL` makes the rate
limit shared through Redis; `WORKERS_APP_IDEMPOTENCY_DATABASE` (a SQLAlchemy URL) stores
`Idempotency-Key` responses in that database; `WORKERS_APP_JOURNAL` is a directory where
each worker writes `<pid>` on start and appends how many slow requests it completed on stop.
"""

import asyncio
import os
import sys
from pathlib import Path

from fastapi import APIRouter
from pydantic import SecretStr
from pydantic_settings import SettingsConfigDict
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from slipway.cache import RedisClient, RedisRateLimitBackend, RedisSettings
from slipway.config import ServiceSettings
from slipway.db import Database, DatabaseSettings, SqlIdempotencyStore
from slipway.web import (
    IdempotencyMiddleware,
    InMemoryIdempotencyStore,
    Service,
    ServiceParts,
    WebSettings,
)
from slipway.web.idempotency import principal_or_anonymous

router = APIRouter()
completed = 0
runs = 0


@router.get("/pid")
async def pid() -> dict[str, int]:
    """Which worker answered."""
    return {"pid": os.getpid()}


@router.get("/slow")
async def slow(seconds: float = 2.0) -> dict[str, int]:
    """Answer after `seconds`, with the worker's pid."""
    global completed
    await asyncio.sleep(seconds)
    completed += 1
    return {"pid": os.getpid()}


@router.post("/orders", status_code=201)
async def create_order() -> dict[str, int]:
    """A non-repeatable effect: its run number in this worker, and the worker."""
    global runs
    runs += 1
    return {"pid": os.getpid(), "run": runs}


class WorkerPidHeader:
    """Pure ASGI: `x-worker-pid` on every response, replays included."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.pid = str(os.getpid()).encode("ascii")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Add the header to the response start."""

        async def send_with_pid(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (b"x-worker-pid", self.pid)]
            await send(message)

        await self.app(scope, receive, send_with_pid)


class Settings(ServiceSettings):
    """The test service's settings, from `WORKERS_APP_*` variables."""

    model_config = SettingsConfigDict(env_prefix="WORKERS_APP_")

    web: WebSettings = WebSettings()
    redis: RedisSettings | None = None
    idempotency_database: str | None = None
    memory_idempotency: bool = False
    journal: str | None = None


class Journal:
    """Writes the worker's pid on start, and its completed slow requests on stop."""

    name = "journal"

    def __init__(self, directory: Path) -> None:
        self.path = directory / str(os.getpid())

    async def start(self) -> None:
        """Note the start."""
        self.path.write_text("started\n")

    async def stop(self) -> None:
        """Note the stop and how many slow requests had completed by then."""
        with self.path.open("a") as journal:
            journal.write(f"stopped after {completed}\n")


def compose(settings: Settings) -> ServiceParts:
    """Routes, the journal, Redis rate limit and SQL idempotency as the settings ask."""
    parts = ServiceParts(routers=[router], middleware=[Middleware(WorkerPidHeader)])
    if settings.journal is not None:
        parts.resources.append(Journal(Path(settings.journal)))
    if settings.redis is not None:
        redis = RedisClient(settings.redis)
        parts.resources.append(redis)
        parts.rate_limit_backend = RedisRateLimitBackend(redis)
    store: SqlIdempotencyStore | InMemoryIdempotencyStore | None = None
    if settings.idempotency_database is not None:
        database = Database(DatabaseSettings(url=SecretStr(settings.idempotency_database)))
        parts.resources.append(database)
        store = SqlIdempotencyStore(database)
    elif settings.memory_idempotency:
        store = InMemoryIdempotencyStore()
    if store is not None:
        parts.middleware.append(
            Middleware(IdempotencyMiddleware, store=store, subject=principal_or_anonymous)
        )
    return parts


service = Service(Settings, compose, title="workers-test", package="slipway.web")

if __name__ == "__main__":
    sys.exit(service.main())
