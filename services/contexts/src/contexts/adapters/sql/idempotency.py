"""`SqlIdempotencyStore`: the IdempotencyStore port on `idempotency_keys`, with expiry."""

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from contexts.adapters.sql.clock import SystemClock
from contexts.adapters.sql.tables import idempotency_keys
from contexts.domain.idempotency import StoredResponse
from contexts.domain.ports import Clock
from slipway.db import Database


def _upsert(session: AsyncSession, values: dict[str, Any]) -> sa.Executable:
    # INSERT ... ON CONFLICT (key, subject) DO UPDATE: both backends spell it the same way.
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        pg_insert = postgresql.insert(idempotency_keys).values(values)
        return pg_insert.on_conflict_do_update(
            index_elements=["key", "subject"],
            set_={name: pg_insert.excluded[name] for name in values},
        )
    if dialect == "sqlite":
        lite_insert = sqlite.insert(idempotency_keys).values(values)
        return lite_insert.on_conflict_do_update(
            index_elements=["key", "subject"],
            set_={name: lite_insert.excluded[name] for name in values},
        )
    raise NotImplementedError(f"idempotency keys on {dialect} are not supported")


class SqlIdempotencyStore:
    """Responses kept under (key, subject); expired ones are never returned, and are purged."""

    def __init__(self, database: Database, *, clock: Clock | None = None) -> None:
        self._database = database
        self._clock = SystemClock() if clock is None else clock

    async def get(self, key: str, subject: str) -> StoredResponse | None:
        """The live response under the key for this subject, or None; an expired one is purged."""
        of_key = sa.and_(idempotency_keys.c.key == key, idempotency_keys.c.subject == subject)
        now = self._clock.now()
        async with self._database.sessionmaker() as session:
            row = (
                (await session.execute(sa.select(idempotency_keys).where(of_key)))
                .mappings()
                .first()
            )
            if row is None:
                return None
            if row["expires_at"] <= now:
                await session.execute(
                    sa.delete(idempotency_keys).where(of_key, idempotency_keys.c.expires_at <= now)
                )
                await session.commit()
                return None
        return StoredResponse(
            request_hash=row["request_hash"],
            status=row["status"],
            headers=row["headers"],
            body=row["body"],
            expires_at=row["expires_at"],
        )

    async def put(self, key: str, subject: str, response: StoredResponse) -> None:
        """Keep `response` under the key for this subject until `response.expires_at`.

        Replaces whatever was stored there, and purges every expired response on the way.
        """
        values = {
            "key": key,
            "subject": subject,
            "request_hash": response.request_hash,
            "status": response.status,
            "headers": dict(response.headers),
            "body": response.body,
            "created_at": self._clock.now(),
            "expires_at": response.expires_at,
        }
        async with self._database.unit_of_work() as uow:
            await self._purge(uow.session)
            await uow.session.execute(_upsert(uow.session, values))

    async def purge_expired(self) -> int:
        """Delete every expired response; how many there were."""
        async with self._database.unit_of_work() as uow:
            return await self._purge(uow.session)

    async def _purge(self, session: AsyncSession) -> int:
        result = await session.execute(
            sa.delete(idempotency_keys).where(idempotency_keys.c.expires_at <= self._clock.now())
        )
        return int(result.rowcount)  # type: ignore[attr-defined]
