"""Alembic for a service that owns its migrations: env.py helpers and a programmatic API.

A service's `migrations/env.py`::

    from slipway.db.migrations import run_migrations

    from billing.models import Base

    run_migrations(target_metadata=Base.metadata)

and `await upgrade(settings.database.url, MIGRATIONS_DIR)` from code or a test, or the
`alembic` command with `sqlalchemy.url` set in the service's alembic.ini.
"""

import asyncio
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

from alembic import command, context
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from pydantic import SecretStr
from sqlalchemy import Connection, MetaData, text
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from slipway.db.settings import async_url

DatabaseURL = str | SecretStr | URL

# Config.attributes keys: the URL (kept out of the ini options, whose %-interpolation and
# printing would mangle or reveal a password) and a connection the caller already opened.
URL_ATTRIBUTE = "slipway.database_url"
CONNECTION_ATTRIBUTE = "connection"


def alembic_config(
    migrations_dir: str | Path,
    database_url: DatabaseURL | None = None,
    *,
    output_buffer: io.StringIO | None = None,
) -> Config:
    """An Alembic Config for `migrations_dir` (its env.py, script.py.mako and versions/)."""
    config = Config(output_buffer=output_buffer)
    config.set_main_option("script_location", str(migrations_dir))
    if database_url is not None:
        config.attributes[URL_ATTRIBUTE] = async_url(database_url)
    return config


def _configured_url(config: Config) -> URL:
    url = config.attributes.get(URL_ATTRIBUTE)
    if isinstance(url, URL):
        return url
    option = config.get_main_option("sqlalchemy.url")
    if not option:
        raise RuntimeError(
            "no database URL: pass one to slipway.db.migrations or set sqlalchemy.url"
        )
    return async_url(option)


def _run_on(connection: Connection, target_metadata: MetaData | None, options: Any) -> None:
    context.configure(connection=connection, target_metadata=target_metadata, **options)
    with context.begin_transaction():
        context.run_migrations()


async def _run_on_new_engine(url: URL, target_metadata: MetaData | None, options: Any) -> None:
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run_on, target_metadata, options)
            await connection.commit()
    finally:
        await engine.dispose()


def run_migrations_online(target_metadata: MetaData | None = None, **options: Any) -> None:
    """From env.py: migrate through the caller's connection, else a new async engine."""
    connection = context.config.attributes.get(CONNECTION_ATTRIBUTE)
    if connection is not None:
        _run_on(connection, target_metadata, options)
        return
    asyncio.run(_run_on_new_engine(_configured_url(context.config), target_metadata, options))


def run_migrations_offline(target_metadata: MetaData | None = None, **options: Any) -> None:
    """From env.py: write the migrations' SQL to the output buffer instead of running it."""
    url = _configured_url(context.config)
    context.configure(
        url=url.render_as_string(hide_password=False),
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        **options,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations(target_metadata: MetaData | None = None, **options: Any) -> None:
    """The whole of a service's env.py: offline (`--sql`) or online, as Alembic asks."""
    if context.is_offline_mode():
        run_migrations_offline(target_metadata, **options)
    else:
        run_migrations_online(target_metadata, **options)


MIGRATION_LOCK_KEY = 0x5_11B_3A1
"""The PostgreSQL advisory lock every migration command holds for its transaction."""


async def _run_command(
    database_url: DatabaseURL, config: Config, action: Callable[[Connection], None]
) -> None:
    engine = create_async_engine(async_url(database_url), poolclass=NullPool)

    def run(connection: Connection) -> None:
        config.attributes[CONNECTION_ATTRIBUTE] = connection
        action(connection)

    try:
        async with engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                # Several processes migrating at start-up (`web.workers`, replicas) queue here
                # instead of racing to create the same tables; released at commit/rollback.
                await connection.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY}
                )
            await connection.run_sync(run)
    finally:
        await engine.dispose()


async def upgrade(
    database_url: DatabaseURL, migrations_dir: str | Path, revision: str = "head"
) -> None:
    """Migrate the database up to `revision`, in one transaction where the backend allows."""
    config = alembic_config(migrations_dir, database_url)
    await _run_command(database_url, config, lambda _: command.upgrade(config, revision))


async def downgrade(database_url: DatabaseURL, migrations_dir: str | Path, revision: str) -> None:
    """Migrate the database down to `revision` (`base` undoes every migration)."""
    config = alembic_config(migrations_dir, database_url)
    await _run_command(database_url, config, lambda _: command.downgrade(config, revision))


async def current_revision(database_url: DatabaseURL, migrations_dir: str | Path) -> str | None:
    """The revision the database is at (None before the first migration)."""
    found: list[str | None] = []
    config = alembic_config(migrations_dir, database_url)

    def read(connection: Connection) -> None:
        found.append(MigrationContext.configure(connection).get_current_revision())

    await _run_command(database_url, config, read)
    return found[0]


def upgrade_sql(
    database_url: DatabaseURL, migrations_dir: str | Path, revision: str = "head"
) -> str:
    """Offline mode: the SQL that upgrading to `revision` would run, without connecting."""
    buffer = io.StringIO()
    config = alembic_config(migrations_dir, database_url, output_buffer=buffer)
    command.upgrade(config, revision, sql=True)
    return buffer.getvalue()
