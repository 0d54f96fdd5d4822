"""The statements of a transaction, straight on its asyncpg connection.

`execute(connection, statement, params)` runs an INSERT, UPDATE, DELETE (or a SELECT whose
rows are not wanted, such as `pg_notify`) in the transaction SQLAlchemy has open on
`connection`, and returns the affected row count (`slipway.db.reads.fetch_rows` reads in that
transaction the same way). On asyncpg, once SQLAlchemy's transaction has begun on the
driver connection (its first statement went through Core), the statement is compiled once
per (statement, parameter names, dialect) and sent with the driver's `execute` or
`executemany`: asyncpg's prepared-statement cache and the codecs SQLAlchemy
installed do the rest, without SQLAlchemy's per-execution work (cache key, execution
context, cursor emulation, result metadata, the greenlet hop): ~80 µs of CPU per statement.

Everything else runs through Core, as before: SQLite; a connection in autocommit or whose
transaction has not begun on the driver yet (a statement sent now would run outside it); a
statement whose execution needs Core's context (Python-side column defaults, expanding or
literal-execute parameters). Errors are raised as a Core execution raises them
(`sqlalchemy.exc.DBAPIError` subclasses, `IntegrityError` for a unique violation, with
`connection_invalidated` after a disconnect, which also invalidates the connection).
"""

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection

from slipway.db.reads import PositionalParameters, direct_driver, translated_on

Params = Mapping[str, Any]


class CompiledWrite:
    """One statement compiled for one dialect and one set of parameter names."""

    __slots__ = ("_parameters", "driver_direct", "sql")

    def __init__(self, statement: sa.Executable, keys: Sequence[str], dialect: Dialect) -> None:
        compiled = statement.compile(dialect=dialect, column_keys=list(keys))  # type: ignore[attr-defined]
        self.sql: str = compiled.string
        # Core computes Python-side defaults and expands some parameters per execution.
        self.driver_direct: bool = not (
            getattr(compiled, "insert_prefetch", None)
            or getattr(compiled, "update_prefetch", None)
            or compiled.literal_execute_params
            or compiled.post_compile_params
        )
        self._parameters = PositionalParameters(compiled, dialect)

    def arguments(self, params: Params) -> list[Any]:
        """The positional arguments for `params`, through the types' bind processors."""
        return self._parameters.arguments(params)


_MOST_COMPILED = 1024
_compiled: dict[tuple[int, tuple[str, ...], str], tuple[sa.Executable, CompiledWrite]] = {}


def compiled_write(
    statement: sa.Executable, keys: Sequence[str], dialect: Dialect
) -> CompiledWrite:
    """`statement` compiled for `dialect` and the parameter names `keys`, once.

    Meant for statements built once (at import); the cache holds each statement it saw.
    """
    cache_key = (id(statement), tuple(keys), dialect.name)
    found = _compiled.get(cache_key)
    if found is None or found[0] is not statement:
        if len(_compiled) >= _MOST_COMPILED:  # statements built per call: stay bounded
            _compiled.clear()
        found = _compiled[cache_key] = (statement, CompiledWrite(statement, keys, dialect))
    return found[1]


def _rowcount(status: str | None) -> int:
    """The row count of a command tag (`INSERT 0 1`, `UPDATE 3`, `DELETE 0`, `SELECT 1`)."""
    last = (status or "").rpartition(" ")[2]
    return int(last) if last.isdigit() else -1


async def execute(
    connection: AsyncConnection, statement: sa.Executable, params: Params | Sequence[Params]
) -> int:
    """Run `statement` with `params` (one mapping, or several for an executemany) in the
    transaction on `connection`; the affected row count (-1 when several or unknown)."""
    many: list[Params] | None = None if isinstance(params, Mapping) else list(params)
    first: Params = params if isinstance(params, Mapping) else (many[0] if many else {})
    adapted = direct_driver(connection, in_transaction=True)
    if adapted is not None:
        write = compiled_write(statement, sorted(first), connection.dialect)
        if write.driver_direct:
            driver = adapted.driver_connection
            try:
                if many is not None:
                    await driver.executemany(write.sql, [write.arguments(p) for p in many])
                    return -1
                return _rowcount(await driver.execute(write.sql, *write.arguments(first)))
            except Exception as error:
                raise await translated_on(connection, error, adapted, write.sql) from error
    if many is not None:
        await connection.execute(statement, many)
        return -1
    result = await connection.execute(statement, first)
    return int(result.rowcount)
