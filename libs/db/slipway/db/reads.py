"""Single-statement reads of a prebuilt Core SELECT, straight on the asyncpg connection.

`CompiledRead` compiles a statement once per dialect: the SQL text (PostgreSQL's `$n`
placeholders), the order of its parameters, SQLAlchemy's own bind and result processors for
the statement's types, and a named-tuple row type. On asyncpg, `fetch_rows` sends the text
with `Connection.fetch` on the driver connection of a pooled SQLAlchemy connection: asyncpg's
prepared-statement cache and the JSON codecs SQLAlchemy installed on connect do the rest,
without SQLAlchemy's per-execution work (cache key, result metadata, greenlet hop). Errors are
raised as SQLAlchemy's (`DBAPIError`, with `connection_invalidated` after a disconnect), as a
Core execution raises them. Elsewhere (SQLite) the statement runs through Core, and the rows
come back as the same named tuples.

`fetch_pooled` is the same read without an `AsyncConnection` around it: one hop into a
greenlet that checks a connection out of the engine's pool, awaits the driver's `fetch` and
checks the connection back in. The pool does what it always does (its events, hence the churn
metrics and the closed-connection check at checkout; recycling; the fair queue; reset on
return, which is no round trip outside a transaction); only the `Connection` and
`AsyncConnection` objects, their isolation-level switch to autocommit and back, and the second
greenlet hop of their close are left out: ~50 µs of a ~95 µs read (`bench_read_paths`).
"""

import weakref
from collections import namedtuple
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy import exc
from sqlalchemy.engine import Connection, Dialect, Engine
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.util.concurrency import await_, greenlet_spawn

Processor = Callable[[Any], Any] | None
ReadRow = Any  # a named tuple per statement, so its fields are not known statically
"""A row of a read: a named tuple (`row.version`, `row[2]`, unpacking, `row._asdict()`)."""


def _keys(statement: sa.Select[Any]) -> list[str]:
    return [str(key) for key in statement.selected_columns.keys()]  # noqa: SIM118  # iterating yields columns


class PositionalParameters:
    """A compiled statement's parameters in `$n` order, the values it carries itself and the
    bind processors of their types: `arguments(params)` is what the driver is sent."""

    __slots__ = ("_binds", "_defaults", "names")

    def __init__(self, compiled: SQLCompiler, dialect: Dialect) -> None:
        self.names: tuple[str, ...] = tuple(compiled.positiontup or ())
        binds = compiled.binds
        # Values the statement carries itself (`.limit(1)` is a bound parameter too).
        self._defaults: dict[str, Any] = {
            name: binds[name].value for name in self.names if not binds[name].required
        }
        self._binds: tuple[Processor, ...] = tuple(
            binds[name].type.dialect_impl(dialect).bind_processor(dialect) for name in self.names
        )

    def arguments(self, params: Mapping[str, Any]) -> list[Any]:
        """The positional arguments for `params`, through the types' bind processors."""
        defaults = self._defaults
        values = [
            params[name] if name in params or name not in defaults else defaults[name]
            for name in self.names
        ]
        for index, process in enumerate(self._binds):
            if process is not None:
                values[index] = process(values[index])
        return values


class CompiledRead:
    """One SELECT compiled for one dialect, with its processors and row type."""

    __slots__ = ("_parameters", "_results", "driver_direct", "row_type", "sql")

    def __init__(self, statement: sa.Select[Any], dialect: Dialect) -> None:
        compiled = statement.compile(dialect=dialect)
        if compiled.literal_execute_params or compiled.post_compile_params:
            raise ValueError("expanding or literal-execute parameters are not supported")
        self.sql: str = compiled.string
        self._parameters = PositionalParameters(compiled, dialect)
        self.row_type: type[ReadRow] = namedtuple("ReadRow", _keys(statement), rename=True)  # type: ignore[misc]
        try:
            results = tuple(
                column.type.dialect_impl(dialect).result_processor(dialect, None)
                for column in statement.selected_columns
            )
        except (TypeError, exc.SQLAlchemyError):
            # A type whose processing depends on the driver's type code of the column (a
            # Numeric on asyncpg): such a statement runs through Core instead.
            results, self.driver_direct = (), False
        else:
            self.driver_direct = True
        self._results: tuple[Processor, ...] | None = (
            results if any(p is not None for p in results) else None
        )

    @property
    def parameter_names(self) -> tuple[str, ...]:
        """The statement's parameters in `$n` order."""
        return self._parameters.names

    def arguments(self, params: Mapping[str, Any]) -> list[Any]:
        """The positional arguments for `params`, through the types' bind processors."""
        return self._parameters.arguments(params)

    def of_core(self, rows: Iterable[Sequence[Any]]) -> list[ReadRow]:
        """Rows of a Core execution of the statement (already processed), as `ReadRow`s."""
        make = self.row_type._make
        return [make(row) for row in rows]

    def of_driver(self, records: Iterable[Sequence[Any]]) -> list[ReadRow]:
        """The driver's records of `sql`, through the types' result processors."""
        make = self.row_type._make
        processors = self._results
        if processors is None:
            return [make(record) for record in records]
        return [
            make(
                [
                    value if p is None else p(value)
                    for p, value in zip(processors, record, strict=True)
                ]
            )
            for record in records
        ]


_compiled: "weakref.WeakKeyDictionary[sa.Select[Any], dict[str, CompiledRead]]" = (
    weakref.WeakKeyDictionary()
)


def compiled_read(statement: sa.Select[Any], dialect: Dialect) -> CompiledRead:
    """`statement` compiled for `dialect`, once per (statement object, dialect name)."""
    per_dialect = _compiled.get(statement)
    if per_dialect is None:
        per_dialect = _compiled[statement] = {}
    found = per_dialect.get(dialect.name)
    if found is None:
        found = per_dialect[dialect.name] = CompiledRead(statement, dialect)
    return found


def translated_error(error: Exception, adapted: Any, sql: str, dialect: Dialect) -> Exception:
    """`error` from asyncpg running `sql` as SQLAlchemy reports it (its DBAPI error, wrapped)."""
    dbapi = dialect.loaded_dbapi
    try:
        adapted._handle_exception(error)  # raises the adapter's DBAPI error for `error`
    except dbapi.Error as dbapi_error:
        invalidated = dialect.is_disconnect(dbapi_error, adapted, None)
        return exc.DBAPIError.instance(
            sql,
            None,
            dbapi_error,
            dbapi.Error,
            connection_invalidated=invalidated,
            dialect=dialect,
        )
    except Exception as other:
        return other
    return error  # pragma: no cover - _handle_exception always raises


def transaction_begun_on_driver(adapted: Any) -> bool:
    """Whether SQLAlchemy's transaction on this adapted asyncpg connection has begun on the
    driver: the adapter begins it with the transaction's first statement, not at `begin()`."""
    return getattr(adapted, "_transaction", None) is not None


def direct_driver(connection: AsyncConnection, *, in_transaction: bool) -> Any | None:
    """The adapted asyncpg connection a statement may be sent to directly, else None.

    A statement sent directly must not miss SQLAlchemy's transaction: with a transaction
    open but not begun on the driver yet it would run outside it. `in_transaction`: the
    statement must run in a transaction begun on the driver (a write); otherwise it may also
    run on its own, outside any (a read on an autocommit or fresh connection).
    """
    if connection.dialect.driver != "asyncpg":
        return None
    adapted: Any = connection.sync_connection.connection.dbapi_connection  # type: ignore[union-attr]
    if transaction_begun_on_driver(adapted):
        return adapted
    if in_transaction:
        return None
    pending = connection.in_transaction() and adapted.isolation_level != "autocommit"
    return None if pending else adapted


async def translated_on(
    connection: AsyncConnection, error: Exception, adapted: Any, sql: str
) -> Exception:
    """`translated_error`; a lost connection is invalidated (`connection_invalidated`)."""
    translated = translated_error(error, adapted, sql, connection.dialect)
    if isinstance(translated, exc.DBAPIError) and translated.connection_invalidated:
        await connection.invalidate(translated)
    return translated


async def fetch_rows(
    connection: AsyncConnection, statement: sa.Select[Any], params: Mapping[str, Any]
) -> list[ReadRow]:
    """The rows of `statement` with `params` on `connection` (driver-direct on asyncpg).

    On asyncpg the statement runs in the connection's transaction once that has begun on
    the driver, else on its own (its implicit transaction), as on an autocommit connection;
    a transaction SQLAlchemy has open but not begun on the driver yet runs it through Core
    (which begins it). A lost connection is invalidated, and the error says so
    (`connection_invalidated`).
    """
    read = compiled_read(statement, connection.dialect)
    adapted = direct_driver(connection, in_transaction=False) if read.driver_direct else None
    if adapted is None:
        result = await connection.execute(statement, params)
        return read.of_core(result.all())
    try:
        records = await adapted.driver_connection.fetch(read.sql, *read.arguments(params))
    except Exception as error:
        raise await translated_on(connection, error, adapted, read.sql) from error
    return read.of_driver(records)


def _fetch_checked_out(engine: Engine, read: CompiledRead, arguments: list[Any]) -> list[Any]:
    """In a greenlet: check out of `engine`'s pool, fetch `read`'s records, check back in."""
    dialect = engine.dialect
    try:
        fairy = engine.pool.connect()
    except dialect.loaded_dbapi.Error as error:  # as `Engine.connect()` reports it
        Connection._handle_dbapi_exception_noconnection(error, dialect, engine)
    adapted: Any = fairy.dbapi_connection
    try:
        records: list[Any] = await_(adapted.driver_connection.fetch(read.sql, *arguments))
    except Exception as error:
        translated = translated_error(error, adapted, read.sql, dialect)
        if isinstance(translated, exc.DBAPIError) and translated.connection_invalidated:
            fairy.invalidate(translated)  # closes it; the record goes back to the pool empty
        else:
            fairy.close()
        raise translated from error
    except BaseException:  # cancelled mid-statement: the connection still goes back
        fairy.close()
        raise
    fairy.close()
    return records


async def fetch_pooled(
    engine: Engine, read: CompiledRead, params: Mapping[str, Any]
) -> list[ReadRow]:
    """`fetch_rows` on a connection checked out of `engine`'s pool for this statement only.

    For asyncpg and a `driver_direct` read only: the statement runs on its own (its implicit
    transaction); rows and errors are `fetch_rows`'.
    """
    records = await greenlet_spawn(_fetch_checked_out, engine, read, read.arguments(params))
    return read.of_driver(records)
