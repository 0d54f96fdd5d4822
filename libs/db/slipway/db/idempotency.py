"""`SqlIdempotencyStore`: slipway.web's IdempotencyStore port on one SQL table.

A service adds the table to its own MetaData (`idempotency_table(metadata)`) and creates it in
a migration (`create_idempotency_table(op)`). Reservation is atomic on PostgreSQL and SQLite:
`INSERT ... ON CONFLICT DO NOTHING` takes a free key; a row slipway.web's `live_entry` finds
expired is taken over by an `UPDATE` conditional on the token and expiry just read, so exactly
one of any number of concurrent callers, in any number of processes, gets `Reserved`. Times
are Unix seconds from the instances' clocks: keep them in sync (NTP) to well under
`lease_seconds`.
"""

import asyncio
import json
import logging
import time
import uuid
from typing import Any, Final

import sqlalchemy as sa
from alembic.operations import Operations
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from slipway.db.database import Database
from slipway.web import BackgroundTask
from slipway.web.idempotency import (
    Claim,
    Clock,
    Entry,
    Record,
    Reserved,
    StoredResponse,
    live_entry,
    may_complete,
    may_release,
)

logger = logging.getLogger("slipway.db.idempotency")

DEFAULT_TABLE_NAME: Final = "slipway_idempotency"
_ATTEMPTS: Final = 5  # a row released between our insert and our read: look again


def _columns() -> list[sa.Column[Any]]:
    return [
        sa.Column("subject", sa.String(255), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("token", sa.String(32), nullable=False),
        sa.Column("status", sa.Integer(), nullable=True),  # NULL while in progress
        sa.Column("headers", sa.Text(), nullable=True),  # JSON list of [name, value]
        sa.Column("body", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.Column("expires_at", sa.Double(), nullable=False),  # lease, then TTL: Unix seconds
    ]


def idempotency_table(metadata: sa.MetaData, name: str = DEFAULT_TABLE_NAME) -> sa.Table:
    """The idempotency table on `metadata` (the service's own, so Alembic sees it)."""
    return sa.Table(
        name,
        metadata,
        *_columns(),
        sa.PrimaryKeyConstraint("subject", "key", name=f"pk_{name}"),
        sa.Index(f"ix_{name}_expires_at", "expires_at"),
    )


def create_idempotency_table(op: Operations, name: str = DEFAULT_TABLE_NAME) -> None:
    """Create the idempotency table in an Alembic migration's `upgrade()`."""
    op.create_table(name, *_columns(), sa.PrimaryKeyConstraint("subject", "key", name=f"pk_{name}"))
    op.create_index(f"ix_{name}_expires_at", name, ["expires_at"])


def drop_idempotency_table(op: Operations, name: str = DEFAULT_TABLE_NAME) -> None:
    """Drop the idempotency table in an Alembic migration's `downgrade()`."""
    op.drop_index(f"ix_{name}_expires_at", table_name=name)
    op.drop_table(name)


def _encode_headers(headers: tuple[tuple[str, str], ...]) -> str:
    return json.dumps([list(pair) for pair in headers], separators=(",", ":"))


def _decode_headers(text: str | None) -> tuple[tuple[str, str], ...]:
    pairs: list[list[str]] = json.loads(text or "[]")
    return tuple((str(name), str(value)) for name, value in pairs)


class SqlIdempotencyStore:
    """Reservations and responses in one row per (subject, key), shared by every instance.

    Each change reads the row, decides with slipway.web's rules (`live_entry`,
    `may_complete`, `may_release`) and writes only if the row still carries the token and
    expiry it read: a compare-and-set, so of concurrent writers exactly one wins.
    """

    def __init__(
        self, database: Database, *, table: sa.Table | None = None, clock: Clock = time.time
    ) -> None:
        self._database = database
        self._table = idempotency_table(sa.MetaData()) if table is None else table
        self._clock = clock

    def _of(self, subject: str, key: str) -> sa.ColumnElement[bool]:
        columns = self._table.c
        return sa.and_(columns.subject == subject, columns.key == key)

    def _unchanged(self, subject: str, key: str, record: Record) -> sa.ColumnElement[bool]:
        columns = self._table.c
        return sa.and_(
            self._of(subject, key),
            columns.token == record.token,
            columns.expires_at == record.expires_at,
        )

    async def reserve(
        self, subject: str, key: str, fingerprint: str, *, lease_seconds: float
    ) -> Claim:
        """Reserve the key if absent or expired, else the live entry holding it."""
        for _ in range(_ATTEMPTS):
            now = self._clock()
            fresh = Record(fingerprint, uuid.uuid4().hex, now + lease_seconds)
            async with self._database.engine.begin() as connection:
                if await self._insert_if_absent(connection, subject, key, fresh, now):
                    return Reserved(subject, key, fresh.token)
                record = await self._read(connection, subject, key)
                entry = live_entry(record, now)
                if entry is not None:
                    return entry
                if record is not None and await self._take_over(
                    connection, subject, key, record, fresh
                ):
                    return Reserved(subject, key, fresh.token)
            # Released between our insert and our read, or another caller took it over first.
        raise RuntimeError(f"idempotency key {key!r} kept changing under {_ATTEMPTS} attempts")

    async def _insert_if_absent(
        self, connection: AsyncConnection, subject: str, key: str, fresh: Record, now: float
    ) -> bool:
        values = {"subject": subject, "key": key, "created_at": now, **_values(fresh)}
        dialect = connection.dialect.name
        if dialect in ("postgresql", "sqlite"):
            insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(self._table)
            statement = insert.values(values).on_conflict_do_nothing(
                index_elements=["subject", "key"]
            )
            return (await connection.execute(statement)).rowcount == 1
        try:  # any other dialect: the primary key refuses the second insert
            async with connection.begin_nested():
                await connection.execute(sa.insert(self._table).values(values))
        except IntegrityError:
            return False
        return True

    async def _take_over(
        self, connection: AsyncConnection, subject: str, key: str, old: Record, fresh: Record
    ) -> bool:
        statement = (
            sa.update(self._table)
            .where(self._unchanged(subject, key, old))
            .values(created_at=self._clock(), **_values(fresh))
        )
        return (await connection.execute(statement)).rowcount == 1

    async def _read(self, connection: AsyncConnection, subject: str, key: str) -> Record | None:
        statement = sa.select(self._table).where(self._of(subject, key))
        row = (await connection.execute(statement)).mappings().first()
        if row is None:
            return None
        response = None
        if row["status"] is not None:
            response = StoredResponse(row["status"], _decode_headers(row["headers"]), row["body"])
        return Record(row["fingerprint"], row["token"], row["expires_at"], response)

    async def complete(
        self, reserved: Reserved, response: StoredResponse, *, ttl_seconds: float
    ) -> bool:
        """Store the response if the reservation is still held."""
        subject, key = reserved.subject, reserved.key
        async with self._database.engine.begin() as connection:
            record = await self._read(connection, subject, key)
            now = self._clock()
            if record is None or not may_complete(record, reserved.token, now):
                return False
            done = Record(record.fingerprint, record.token, now + ttl_seconds, response)
            statement = (
                sa.update(self._table)
                .where(self._unchanged(subject, key, record))
                .values(_values(done))
            )
            return (await connection.execute(statement)).rowcount == 1

    async def release(self, reserved: Reserved) -> None:
        """Delete the reservation if it is still held (never a completed response)."""
        subject, key = reserved.subject, reserved.key
        async with self._database.engine.begin() as connection:
            record = await self._read(connection, subject, key)
            if record is not None and may_release(record, reserved.token):
                statement = sa.delete(self._table).where(
                    self._unchanged(subject, key, record), self._table.c.status.is_(None)
                )
                await connection.execute(statement)

    async def get(self, subject: str, key: str) -> Entry | None:
        """The live entry under the key, or None."""
        async with self._database.engine.connect() as connection:
            return live_entry(await self._read(connection, subject, key), self._clock())

    async def purge_expired(self) -> int:
        """Delete every expired entry; how many there were (`purger()` runs it periodically)."""
        # `is_expired` as SQL: a row is expired once its expires_at is at or before now.
        statement = sa.delete(self._table).where(self._table.c.expires_at <= self._clock())
        async with self._database.engine.begin() as connection:
            return int((await connection.execute(statement)).rowcount)

    def purger(self, *, every_seconds: float = 3600.0) -> BackgroundTask:
        """A Resource deleting expired entries every `every_seconds`; list it after the database.

        Every instance may run one: concurrent purges delete disjoint or already deleted rows.
        """

        async def purge_forever() -> None:
            while True:
                await asyncio.sleep(every_seconds)
                try:
                    purged = await self.purge_expired()
                except Exception:
                    logger.exception("could not purge expired idempotency entries")
                    continue
                if purged:
                    logger.info("purged %d expired idempotency entries", purged)

        return BackgroundTask(f"{self._table.name}-purge", purge_forever)


def _values(record: Record) -> dict[str, Any]:
    """The row's columns for `record`, other than subject, key and created_at."""
    response = record.response
    return {
        "fingerprint": record.fingerprint,
        "token": record.token,
        "expires_at": record.expires_at,
        "status": None if response is None else response.status,
        "headers": None if response is None else _encode_headers(response.headers),
        "body": None if response is None else response.body,
    }
