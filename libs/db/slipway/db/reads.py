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

`fetch_pooled` is the same read without an `AsyncConnection` around it: it checks a connection
out of the engine's pool, awaits the driver's `fetch` and checks the connection back in. The
pool does what it always does (its events, hence the churn metrics and the closed-connection
check at checkout; recycling; the fair queue; reset on return, which is no round trip outside a
transaction); only the `Connection` and `AsyncConnection` objects, their isolation-level switch
to autocommit and back, and the second greenlet hop of their close are left out: ~50 µs of a
~95 µs read (`bench_read_paths`). The wait in line, and the checkout and check-in when they run
no IO (an open pooled connection kept open), run in async code rather than in a greenlet;
opening, replacing, pre-pinging or closing a connection runs the pool's code in a greenlet.
"""

import time
import weakref
from collections import namedtuple
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy import exc
from sqlalchemy.engine import Connection, Dialect, Engine
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.pool import ConnectionPoolEntry, Pool
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.util.concurrency import greenlet_spawn

from slipway.db.disconnects import replace_if_closed
from slipway.db.fair_pool import FairAsyncAdaptedQueuePool

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


def _connect(engine: Engine, entry: ConnectionPoolEntry | None = None) -> Any:
    """`engine`'s pool checks out `entry` (from `get_in_line`), or any if None; DBAPI errors
    as `Engine.connect()` reports them."""
    pool = engine.pool
    try:
        if isinstance(pool, FairAsyncAdaptedQueuePool):
            return pool.connect_with(entry)
        return pool.connect()
    except engine.dialect.loaded_dbapi.Error as error:
        Connection._handle_dbapi_exception_noconnection(error, engine.dialect, engine)


# The checkout listeners that run no IO on an open connection (tuple(): a cheap test per read).
_IO_FREE_CHECKOUT_LISTENERS = ((), (replace_if_closed,))


def _checks_out_without_io(pool: Pool, entry: Any) -> bool:
    """Whether checking `entry` out of `pool` runs no IO (so needs no greenlet): an open
    asyncpg connection that is not due for recycling nor invalidated, no pre-ping, and only
    the closed-connection check at checkout (which passes: the connection is open)."""
    dbapi_connection = entry.dbapi_connection
    recycle = pool._recycle
    return (
        dbapi_connection is not None
        and not pool._pre_ping
        # A second early: the record's own check, a moment later, cannot decide otherwise.
        and (recycle < 0 or time.time() - entry.starttime < recycle - 1)
        and pool._invalidate_time <= entry.starttime
        and entry._soft_invalidate_time <= entry.starttime
        and not dbapi_connection.driver_connection.is_closed()
        and tuple(pool.dispatch.checkout) in _IO_FREE_CHECKOUT_LISTENERS
    )


def _checks_in_without_io(pool: Pool, fairy: Any) -> bool:
    """Whether `fairy.close()` runs no IO: no transaction begun on the asyncpg connection to
    roll back, no check-in or reset listeners, and the pool keeps the connection open."""
    return (
        isinstance(pool, FairAsyncAdaptedQueuePool)
        and fairy._counter == 1
        and not transaction_begun_on_driver(fairy.dbapi_connection)
        and not fairy._connection_record.finalize_callback
        and not pool.dispatch.checkin
        and not pool.dispatch.reset
        and pool.keeps_a_return()
    )


async def _check_out(engine: Engine) -> Any:
    """A connection of `engine`'s pool, as `pool.connect()` in a greenlet checks it out;
    in line in async code, and without the greenlet when that needs no IO."""
    pool = engine.pool
    if not isinstance(pool, FairAsyncAdaptedQueuePool):
        return await greenlet_spawn(_connect, engine)
    entry = await pool.get_in_line()
    if entry is not None and _checks_out_without_io(pool, entry):
        return _connect(engine, entry)
    return await greenlet_spawn(_connect, engine, entry)


async def _check_in(fairy: Any) -> None:
    """`fairy.close()`, in a greenlet only if it runs IO (closing an overflow connection)."""
    if _checks_in_without_io(fairy._pool, fairy):
        fairy.close()
    else:
        await greenlet_spawn(fairy.close)


async def fetch_pooled(
    engine: Engine, read: CompiledRead, params: Mapping[str, Any]
) -> list[ReadRow]:
    """`fetch_rows` on a connection checked out of `engine`'s pool for this statement only.

    For asyncpg and a `driver_direct` read only: the statement runs on its own (its implicit
    transaction); rows and errors are `fetch_rows`'. The checkout, the check-in and an
    invalidation are the pool's own; only those that run IO (opening, replacing or closing a
    connection) run in a greenlet: the usual read needs none, saving its two switches.
    """
    arguments = read.arguments(params)
    fairy = await _check_out(engine)
    adapted: Any = fairy.dbapi_connection
    try:
        records = await adapted.driver_connection.fetch(read.sql, *arguments)
    except Exception as error:
        translated = translated_error(error, adapted, read.sql, engine.dialect)
        if isinstance(translated, exc.DBAPIError) and translated.connection_invalidated:
            # Closes it; the record goes back to the pool empty.
            await greenlet_spawn(fairy.invalidate, translated)
        else:
            await _check_in(fairy)
        raise translated from error
    except BaseException:  # cancelled mid-statement: the connection still goes back
        await _check_in(fairy)
        raise
    await _check_in(fairy)
    return read.of_driver(records)
