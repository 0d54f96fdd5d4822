"""Stale connections without a pre-ping: closed sockets replaced at checkout, disconnects seen.

A per-checkout pre-ping costs a round trip on every unit of work. Instead:

- asyncpg reads every socket while the connection idles in the pool, so a connection the
  server closed (a terminated backend, a restart, `idle_session_timeout`) is already marked
  closed when it is checked out: `install_closed_connection_check` replaces it then, without
  a round trip;
- a connection that dies unseen (no FIN yet: a network partition) fails its first statement;
  SQLAlchemy's disconnect detection then invalidates it and every older pooled connection,
  and `is_disconnect` lets a caller re-run work that is safe to re-run;
- `pool_recycle_seconds` bounds how old any pooled connection gets.
"""

from typing import Any

from sqlalchemy import event, exc
from sqlalchemy.ext.asyncio import AsyncEngine


def replace_if_closed(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    """The checkout listener: a closed connection is refused (no IO on an open one)."""
    if dbapi_connection.driver_connection.is_closed():
        # The pool invalidates this connection and hands out a freshly opened one instead.
        raise exc.DisconnectionError("the server closed this pooled connection while it idled")


def install_closed_connection_check(engine: AsyncEngine) -> None:
    """On asyncpg, replace at checkout (no round trip) a connection the server has closed."""
    if engine.url.get_driver_name() == "asyncpg":
        event.listen(engine.sync_engine, "checkout", replace_if_closed)


def is_disconnect(error: BaseException) -> bool:
    """Whether `error` is SQLAlchemy's report of a lost connection (the pool reconnects)."""
    return isinstance(error, exc.DBAPIError) and error.connection_invalidated
