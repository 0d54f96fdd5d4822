"""`Database`: the engine and session factory as a slipway.web Resource, with readiness."""

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from types import TracebackType
from typing import Any, Self, TypeVar

from prometheus_client import CollectorRegistry
from sqlalchemy import Select, text
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.pool import Pool

from slipway.db.disconnects import is_disconnect
from slipway.db.engine import create_autocommit_engine, create_engine
from slipway.db.metrics import DatabaseMetrics, database_metrics
from slipway.db.reads import ReadRow, compiled_read, fetch_pooled, fetch_rows
from slipway.db.settings import DatabaseSettings
from slipway.db.unit_of_work import SqlAlchemyUnitOfWork

T = TypeVar("T")

_SELECT_ONE = text("SELECT 1")


async def _select_one(connection: AsyncConnection) -> None:
    await connection.execute(_SELECT_ONE)


class DatabaseReadiness:
    """A slipway.web ReadinessCheck: `SELECT 1` within the readiness timeout."""

    def __init__(self, database: "Database") -> None:
        self.name = database.name
        self._database = database

    async def __call__(self) -> None:
        """Raise unless the database answers `SELECT 1` in time."""
        await self._database.ping()


class Database:
    """Engine plus `async_sessionmaker`, started and stopped with the app.

    A slipway.web `Resource`: `start()` creates the engine and checks it can connect,
    `stop()` disposes of the pool. Pass `database.readiness_check` to `create_app`.
    """

    def __init__(
        self,
        settings: DatabaseSettings | None = None,
        *,
        name: str = "database",
        service_name: str = "slipway",
        registry: CollectorRegistry | None = None,
    ) -> None:
        self.settings = settings or DatabaseSettings()
        self.name = name
        self.service_name = service_name
        self.url: URL = self.settings.sqlalchemy_url(service_name)
        self.readiness_check = DatabaseReadiness(self)
        self.metrics: DatabaseMetrics = database_metrics(registry)
        self._engine: AsyncEngine | None = None
        self._autocommit_engine: AsyncEngine | None = None
        self._sessionmaker: async_sessionmaker[AsyncSession] | None = None

    def __repr__(self) -> str:
        return f"Database(name={self.name!r}, url={self.url!r})"  # URL repr hides the password

    @property
    def engine(self) -> AsyncEngine:
        """The engine; only between start() and stop()."""
        if self._engine is None:
            raise RuntimeError(f"database {self.name!r} used before start()")
        return self._engine

    @property
    def sessionmaker(self) -> async_sessionmaker[AsyncSession]:
        """The session factory (expire_on_commit=False); only between start() and stop()."""
        if self._sessionmaker is None:
            raise RuntimeError(f"database {self.name!r} used before start()")
        return self._sessionmaker

    def _pool(self) -> Pool | None:
        return None if self._engine is None else self._engine.pool

    async def start(self) -> None:
        """Create the engine and session factory, then check a connection answers."""
        if self._engine is not None:
            return
        self._engine = create_engine(
            self.settings, url=self.url, application_name=self.service_name
        )
        self.metrics.count_connection_events(self._engine, self.name)
        self._autocommit_engine = create_autocommit_engine(
            self._engine, self.settings, application_name=self.service_name
        )
        if self._autocommit_engine.pool is not self._engine.pool:
            self.metrics.count_connection_events(self._autocommit_engine, self.name)
        self._sessionmaker = async_sessionmaker(self._engine, expire_on_commit=False)
        try:
            await self.ping(self.settings.connect_timeout_seconds)
        except BaseException:
            await self.stop()
            raise
        self.metrics.pools.add(self.name, self._pool)

    async def stop(self) -> None:
        """Close every pooled connection."""
        self.metrics.pools.remove(self.name)
        engine, self._engine, self._sessionmaker = self._engine, None, None
        autocommit, self._autocommit_engine = self._autocommit_engine, None
        if autocommit is not None and engine is not None and autocommit.pool is not engine.pool:
            await autocommit.dispose()
        if engine is not None:
            await engine.dispose()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    async def ping(self, timeout_seconds: float | None = None) -> None:
        """Run `SELECT 1` (via `read`); raise TimeoutError past the timeout (default: readiness)."""
        timeout = timeout_seconds or self.settings.readiness_timeout_seconds
        async with asyncio.timeout(timeout):
            await self.read(_select_one)

    @asynccontextmanager
    async def read_connection(self) -> AsyncIterator[AsyncConnection]:
        """A pooled connection in autocommit, for reads that need no transaction around them.

        Each statement runs in its own implicit transaction: no `BEGIN`/`ROLLBACK` round trips
        on asyncpg, no transaction on aiosqlite. Right for a single-statement read; two
        statements here may see different snapshots. The block is not retried: see `read`.
        """
        engine = self._autocommit_engine
        if engine is None:
            raise RuntimeError(f"database {self.name!r} used before start()")
        async with engine.connect() as connection:
            yield connection

    async def read(self, work: Callable[[AsyncConnection], Awaitable[T]]) -> T:
        """`await work(connection)` on a `read_connection()`, re-run once after a disconnect.

        A connection that died unseen in the pool fails its first statement; SQLAlchemy then
        invalidates the pool and `work` runs again on a new connection. `work` must be
        read-only and safe to run twice.
        """
        try:
            async with self.read_connection() as connection:
                return await work(connection)
        except Exception as error:
            if not is_disconnect(error):
                raise
        self.metrics.read_retries.labels(self.name).inc()
        async with self.read_connection() as connection:
            return await work(connection)

    async def fetch_all(
        self, statement: Select[Any], params: Mapping[str, Any] | None = None
    ) -> list[ReadRow]:
        """The rows of one prebuilt SELECT, as a `read` (autocommit, re-run once on a disconnect).

        On PostgreSQL the statement is compiled once and sent by asyncpg itself on a connection
        checked out of the pool for it alone (its prepared-statement cache; no SQLAlchemy
        execution, no `AsyncConnection`: `slipway.db.reads.fetch_pooled`); on SQLite it runs
        through Core. Rows are named tuples with the same values on both (`slipway.db.reads`).
        """
        arguments = params or {}
        engine = self.engine.sync_engine
        read = compiled_read(statement, engine.dialect)
        if engine.dialect.driver != "asyncpg" or not read.driver_direct:

            async def run(connection: AsyncConnection) -> list[ReadRow]:
                return await fetch_rows(connection, statement, arguments)

            return await self.read(run)
        try:
            return await fetch_pooled(engine, read, arguments)
        except Exception as error:
            if not is_disconnect(error):
                raise
        self.metrics.read_retries.labels(self.name).inc()
        return await fetch_pooled(engine, read, arguments)

    async def fetch_one(
        self, statement: Select[Any], params: Mapping[str, Any] | None = None
    ) -> ReadRow | None:
        """The first row of `fetch_all(statement, params)`, or None."""
        rows = await self.fetch_all(statement, params)
        return rows[0] if rows else None

    @asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator[SqlAlchemyUnitOfWork]:
        """A session in one transaction: committed on success, rolled back on an exception."""
        async with self.sessionmaker() as session:
            uow = SqlAlchemyUnitOfWork(session)
            try:
                yield uow
                await session.commit()
            except BaseException:
                await session.rollback()
                self.metrics.transactions.labels(self.name, "rollback").inc()
                raise
            self.metrics.transactions.labels(self.name, "commit").inc()
