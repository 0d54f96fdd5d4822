"""`SqlIdempotencyStore`: slipway.web's IdempotencyStore port on one SQL table.

A service adds the table to its own MetaData (`idempotency_table(metadata)`) and creates it in
a migration (`create_idempotency_table(op)`). Reservation is atomic on PostgreSQL and SQLite:
`INSERT ... ON CONFLICT DO NOTHING` takes a free key, a conditional `UPDATE ... WHERE
expires_at <= now` takes over an expired one, so exactly one of any number of concurrent
callers, in any number of processes, gets `Reserved`. Times are Unix seconds from the
instances' clocks: keep them in sync (NTP) to well under `lease_seconds`.
"""

import json
import time
import uuid
from typing import Any, Final

import sqlalchemy as sa
from alembic.operations import Operations
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from slipway.db.database import Database
from slipway.web.idempotency import (
    Claim,
    Clock,
    Completed,
    Entry,
    InProgress,
    Reserved,
    StoredResponse,
)

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
    """Reservations and responses in one row per (subject, key), shared by every instance."""

    def __init__(
        self, database: Database, *, table: sa.Table | None = None, clock: Clock = time.time
    ) -> None:
        self._database = database
        self._table = idempotency_table(sa.MetaData()) if table is None else table
        self._clock = clock

    def _of(self, subject: str, key: str) -> sa.ColumnElement[bool]:
        columns = self._table.c
        return sa.and_(columns.subject == subject, columns.key == key)

    async def reserve(
        self, subject: str, key: str, fingerprint: str, *, lease_seconds: float
    ) -> Claim:
        """Reserve the key if absent or expired, else the live entry holding it."""
        for _ in range(_ATTEMPTS):
            token = uuid.uuid4().hex
            now = self._clock()
            values = {
                "subject": subject,
                "key": key,
                "fingerprint": fingerprint,
                "token": token,
                "status": None,
                "headers": None,
                "body": None,
                "created_at": now,
                "expires_at": now + lease_seconds,
            }
            async with self._database.engine.begin() as connection:
                if await self._insert_if_absent(connection, values):
                    return Reserved(token)
                if await self._take_over_expired(connection, values, now):
                    return Reserved(token)
                entry = await self._read(connection, subject, key, now)
            if entry is not None:
                return entry
        raise RuntimeError(f"idempotency key {key!r} kept changing under {_ATTEMPTS} attempts")

    async def _insert_if_absent(self, connection: AsyncConnection, values: dict[str, Any]) -> bool:
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

    async def _take_over_expired(
        self, connection: AsyncConnection, values: dict[str, Any], now: float
    ) -> bool:
        # Conditional on expiry, so of concurrent takers exactly one UPDATE matches the row.
        statement = (
            sa.update(self._table)
            .where(self._of(values["subject"], values["key"]), self._table.c.expires_at <= now)
            .values(
                {name: value for name, value in values.items() if name not in ("subject", "key")}
            )
        )
        return (await connection.execute(statement)).rowcount == 1

    async def _read(
        self, connection: AsyncConnection, subject: str, key: str, now: float
    ) -> Entry | None:
        statement = sa.select(self._table).where(
            self._of(subject, key), self._table.c.expires_at > now
        )
        row = (await connection.execute(statement)).mappings().first()
        if row is None:
            return None
        if row["status"] is None:
            return InProgress(row["fingerprint"])
        response = StoredResponse(row["status"], _decode_headers(row["headers"]), row["body"])
        return Completed(row["fingerprint"], response)

    async def complete(
        self,
        subject: str,
        key: str,
        token: str,
        response: StoredResponse,
        *,
        ttl_seconds: float,
    ) -> bool:
        """Store the response if `token` still holds a live reservation."""
        now = self._clock()
        columns = self._table.c
        statement = (
            sa.update(self._table)
            .where(
                self._of(subject, key),
                columns.token == token,
                columns.status.is_(None),
                columns.expires_at > now,
            )
            .values(
                status=response.status,
                headers=_encode_headers(response.headers),
                body=response.body,
                expires_at=now + ttl_seconds,
            )
        )
        async with self._database.engine.begin() as connection:
            return (await connection.execute(statement)).rowcount == 1

    async def release(self, subject: str, key: str, token: str) -> None:
        """Delete the reservation if `token` still holds it (never a completed response)."""
        columns = self._table.c
        statement = sa.delete(self._table).where(
            self._of(subject, key), columns.token == token, columns.status.is_(None)
        )
        async with self._database.engine.begin() as connection:
            await connection.execute(statement)

    async def get(self, subject: str, key: str) -> Entry | None:
        """The live entry under the key, or None."""
        async with self._database.engine.connect() as connection:
            return await self._read(connection, subject, key, self._clock())

    async def purge_expired(self) -> int:
        """Delete every expired entry; how many there were (run it now and then)."""
        statement = sa.delete(self._table).where(self._table.c.expires_at <= self._clock())
        async with self._database.engine.begin() as connection:
            return int((await connection.execute(statement)).rowcount)
