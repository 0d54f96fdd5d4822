"""Before the stack starts: its PostgreSQL databases exist, Redis answers, the ports are free.

Each finding is a `StackError` with one line for the user; nothing here prints a traceback.
"""

import asyncio
import socket
from collections.abc import Iterable

import redis.asyncio as aioredis
import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from slipway.db.settings import async_url
from slipway_stack.config import StackConfig, redact

CONNECT_TIMEOUT_SECONDS = 5.0


class StackError(Exception):
    """Something the stack needs is missing; the message says what, in one line."""


async def ensure_databases(server_url: str, names: Iterable[str]) -> list[str]:
    """Create each database in `names` that `server_url`'s server lacks; the ones created."""
    engine = create_async_engine(
        async_url(server_url),
        isolation_level="AUTOCOMMIT",  # CREATE DATABASE refuses a transaction
        poolclass=NullPool,
        connect_args={"timeout": CONNECT_TIMEOUT_SECONDS},
    )
    created: list[str] = []
    try:
        async with engine.connect() as connection:
            for name in names:
                exists = await connection.scalar(
                    sa.text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
                )
                if not exists:
                    # `name` matched config.DATABASE_NAME ([a-z_][a-z0-9_]*): safe to quote.
                    await connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
                    created.append(name)
    except (SQLAlchemyError, OSError, TimeoutError) as exc:
        reason = getattr(exc, "orig", None) or exc
        raise StackError(
            f"cannot prepare the databases on PostgreSQL at {redact(server_url)}: "
            f"{type(reason).__name__}: {str(reason).splitlines()[0] if str(reason) else ''}"
        ) from exc
    finally:
        await engine.dispose()
    return created


async def check_redis(url: str) -> None:
    """Raise StackError unless Redis at `url` answers PING."""
    client = aioredis.Redis.from_url(
        url, socket_connect_timeout=CONNECT_TIMEOUT_SECONDS, socket_timeout=CONNECT_TIMEOUT_SECONDS
    )
    try:
        await client.ping()
    except (aioredis.RedisError, OSError) as exc:
        raise StackError(f"Redis at {redact(url)} does not answer: {exc}") from exc
    finally:
        await client.aclose()


def port_in_use(host: str, port: int) -> bool:
    """Whether `port` on `host` cannot be bound now (another process listens there)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


def check_ports(config: StackConfig) -> None:
    """Raise StackError naming the first of the stack's ports something else holds."""
    for flag, port in (
        ("--authz-port", config.authz_port),
        ("--contexts-port", config.contexts_port),
        ("--search-port", config.search_port),
    ):
        if port_in_use(config.host, port):
            raise StackError(
                f"{config.host}:{port} is in use: stop what listens there or pass {flag}"
            )


def prepare(config: StackConfig) -> list[str]:
    """Check ports, PostgreSQL (creating the databases) and Redis; the databases created."""
    check_ports(config)
    created: list[str] = []
    if config.postgres_url is not None:
        created = asyncio.run(
            ensure_databases(
                config.postgres_url, (config.contexts_database, config.search_database)
            )
        )
    if config.redis_url is not None:
        asyncio.run(check_redis(config.redis_url))
    return created
