"""`PostgresLeadership`: which relay of several instances publishes an outbox, on PostgreSQL.

One connection, checked out of the Database's pool for the relay's lifetime, carries three
things: `LISTEN` on the outbox channel, a session-level `pg_try_advisory_lock` on the outbox's
key, and the relay's rounds. Since the rounds run on the connection that holds the lock, a
relay never publishes without holding it; when the connection closes (stop, crash, network),
the server frees the lock and a standby's next `acquire()` takes it.

Checked out of the pool rather than opened with asyncpg directly: it gets the pool's URL,
credentials, timeouts and `application_name` with nothing to keep in sync, and the outbox's
SQLAlchemy queries run on it. It is invalidated on release, so it never returns to the pool
with the lock or the LISTEN on it.
"""

import hashlib
import logging
from collections.abc import Callable
from contextlib import suppress
from typing import Any, Protocol, cast

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from slipway.db import Database

logger = logging.getLogger("slipway.events")


class _ListeningConnection(Protocol):
    """The part of asyncpg's `Connection` used here (asyncpg ships no type information)."""

    async def add_listener(self, channel: str, callback: Callable[..., object]) -> None: ...

    def add_termination_listener(self, callback: Callable[..., object]) -> None: ...

    def is_closed(self) -> bool: ...


def outbox_lock_key(table: sa.Table) -> int:
    """The advisory lock key of an outbox: a stable signed 64-bit hash of its table's name."""
    name = f"slipway.events.outbox:{table.fullname}".encode()
    return int.from_bytes(hashlib.blake2b(name, digest_size=8).digest(), "big", signed=True)


class PostgresLeadership:
    """The dedicated connection of one relay: LISTEN, the advisory lock, the rounds."""

    def __init__(
        self, database: Database, *, table: sa.Table, channel: str, wake: Callable[[], None]
    ) -> None:
        self.lock_key = outbox_lock_key(table)
        self._database = database
        self._channel = channel
        self._wake = wake
        self._connection: AsyncConnection | None = None
        self._listener: _ListeningConnection | None = None
        self.held = False

    @property
    def connection(self) -> AsyncConnection:
        """The connection the rounds run on (open between `open()`/`acquire()` and `close()`)."""
        if self._connection is None:
            raise RuntimeError("the relay has no database connection")
        return self._connection

    async def open(self) -> None:
        """Check out the connection and LISTEN on the channel; a no-op when open."""
        if self._connection is not None:
            return
        connection = await self._database.engine.connect()
        try:
            raw = await connection.get_raw_connection()
            listener = cast(_ListeningConnection, raw.driver_connection)
            # Before any transaction on this connection: LISTEN takes effect at once.
            await listener.add_listener(self._channel, self._on_event)
            listener.add_termination_listener(self._on_event)
        except BaseException:
            await _discard(connection)
            raise
        self._connection, self._listener = connection, listener

    async def close(self) -> None:
        """Close the connection for good, which frees the lock and ends the LISTEN."""
        connection, self._connection, self._listener = self._connection, None, None
        self.held = False
        if connection is not None:
            await _discard(connection)

    async def acquire(self) -> bool:
        """Whether this relay holds the lock now: reconnect if the connection was lost, then
        try the lock unless already held."""
        if self._listener is not None and self._listener.is_closed():
            logger.warning("outbox relay lost its database connection; reconnecting")
            await self.close()
        await self.open()
        if not self.held:
            connection = self.connection
            async with connection.begin():
                locked = await connection.scalar(
                    sa.select(sa.func.pg_try_advisory_lock(self.lock_key))
                )
            self.held = bool(locked)
        return self.held

    def _on_event(self, *_args: Any) -> None:
        # A notification, or the connection closed: either way the relay should look.
        self._wake()


async def _discard(connection: AsyncConnection) -> None:
    with suppress(Exception):
        await connection.invalidate()
    with suppress(Exception):
        await connection.close()
