"""`ConnectionScope`: how the SQL repositories of one unit of work reach the database.

Reads go through `fetch_all` (one prebuilt SELECT; on PostgreSQL sent by asyncpg itself) or
`read`: on the unit of work's transaction once it has one (so they see its
own writes and hold its locks), otherwise as a statement of its own on an autocommit
connection, with no `BEGIN`/`ROLLBACK` around it. Writes and locking reads go through
`transaction`, which begins the unit of work's one transaction on first use.
"""

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol, TypeVar

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from slipway.db.reads import ReadRow

T = TypeVar("T")


class ConnectionScope(Protocol):
    """The connections of one unit of work."""

    @property
    def dialect_name(self) -> str:
        """`postgresql` or `sqlite`: where the statements differ."""
        ...

    async def read(self, work: Callable[[AsyncConnection], Awaitable[T]]) -> T:
        """`work` on the open transaction, or alone on an autocommit connection (read-only)."""
        ...

    async def fetch_all(
        self, statement: sa.Select[Any], params: Mapping[str, Any]
    ) -> list[ReadRow]:
        """The rows of one SELECT: in the open transaction, or alone (`Database.fetch_all`)."""
        ...

    async def transaction(self) -> AsyncConnection:
        """The connection of this unit of work's transaction, begun on the first call."""
        ...

    def on_commit(self, callback: Callable[[], None]) -> None:
        """Call `callback` once the transaction has committed (never after a rollback)."""
        ...
