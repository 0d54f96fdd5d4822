"""Build an AsyncEngine from DatabaseSettings: pool options, timeouts, SQLite pragmas."""

from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import StaticPool

from slipway.db.disconnects import install_closed_connection_check
from slipway.db.fair_pool import FairAsyncAdaptedQueuePool
from slipway.db.json_values import loads
from slipway.db.settings import DatabaseSettings


def _is_sqlite_memory(url: URL) -> bool:
    return url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:")


def engine_options(settings: DatabaseSettings, url: URL, application_name: str) -> dict[str, Any]:
    """Keyword arguments for `create_async_engine` suited to the URL's backend."""
    options: dict[str, Any] = {
        "echo": settings.echo,
        "pool_pre_ping": settings.pool_pre_ping,
        # JSON columns decoded as json.loads would, faster (slipway.db.json_values).
        "json_deserializer": loads,
    }
    backend = url.get_backend_name()
    if _is_sqlite_memory(url):
        # One shared connection, or every checkout would see its own empty database.
        options["poolclass"] = StaticPool
    else:
        options |= {
            # Waiting checkouts served in arrival order (slipway.db.fair_pool).
            "poolclass": FairAsyncAdaptedQueuePool,
            "pool_size": settings.pool_size,
            "max_overflow": settings.max_overflow,
            "pool_timeout": settings.pool_timeout_seconds,
            "pool_recycle": settings.pool_recycle_seconds,
        }
    if backend == "postgresql" and url.get_driver_name() == "asyncpg":
        server_settings = {"application_name": application_name}
        if settings.statement_timeout_ms is not None:
            server_settings["statement_timeout"] = str(settings.statement_timeout_ms)
        options["connect_args"] = {
            "timeout": settings.connect_timeout_seconds,
            "server_settings": server_settings,
        }
    elif backend == "sqlite":
        options["connect_args"] = {"timeout": settings.connect_timeout_seconds}
    return options


def install_sqlite_pragmas(engine: AsyncEngine, settings: DatabaseSettings) -> None:
    """Set journal mode, foreign_keys=ON and busy_timeout on every new SQLite connection."""
    pragmas = [
        f"PRAGMA busy_timeout = {int(settings.sqlite_busy_timeout_ms)}",
        "PRAGMA foreign_keys = ON",
    ]
    if not _is_sqlite_memory(engine.url):
        pragmas.append(f"PRAGMA journal_mode = {settings.sqlite_journal_mode}")

    @event.listens_for(engine.sync_engine, "connect")
    def _set_pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        try:
            for pragma in pragmas:
                cursor.execute(pragma)
        finally:
            cursor.close()


def create_engine(
    settings: DatabaseSettings,
    *,
    url: URL,
    application_name: str = "slipway",
    isolation_level: str | None = None,
) -> AsyncEngine:
    """An AsyncEngine for `url` configured from `settings` (no connection is opened yet)."""
    options = engine_options(settings, url, application_name)
    if isolation_level is not None:
        options["isolation_level"] = isolation_level
    engine = create_async_engine(url, **options)
    if url.get_backend_name() == "sqlite":
        install_sqlite_pragmas(engine, settings)
    install_closed_connection_check(engine)
    return engine


def create_autocommit_engine(
    engine: AsyncEngine, settings: DatabaseSettings, *, application_name: str = "slipway"
) -> AsyncEngine:
    """`engine` in autocommit, for reads without a transaction.

    On PostgreSQL (and in-memory SQLite) it shares `engine`'s pool: each checkout is
    switched to autocommit and back, no round trip on asyncpg. A SQLite file gets its own
    pool of autocommit connections instead: switching an aiosqlite connection costs several
    trips to its thread per checkout, more than the read.
    """
    url = engine.url
    if url.get_backend_name() == "sqlite" and not _is_sqlite_memory(url):
        return create_engine(
            settings, url=url, application_name=application_name, isolation_level="AUTOCOMMIT"
        )
    return engine.execution_options(isolation_level="AUTOCOMMIT")
