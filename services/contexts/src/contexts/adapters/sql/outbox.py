"""The domain's Outbox port on slipway.events: change events written in the change's transaction.

`SqlOutbox` turns each `ContextChanged` into a slipway.events `Event` (stream = the namespace,
key = the context's name, id = the event's `event_id`, so repeats keep their identity) and
writes it as the shared `slipway.events.Outbox.add` does: the row in the outbox's table, on
PostgreSQL `pg_notify` on its channel in the same transaction, and the outbox's
`CommitSignal` fired once the transaction commits (waking this process's relays at once).
It writes on the unit of work's connection: `Outbox.add` takes an ORM session, which the
unit of work no longer opens.
"""

import functools

import sqlalchemy as sa

from contexts.adapters.sql.scope import ConnectionScope
from contexts.adapters.sql.tables import outbox as outbox_rows
from contexts.domain.events import ContextChanged
from slipway.db.writes import execute
from slipway.events import Event, Outbox
from slipway.events.notify import notify_statement

EVENT_TYPE = "context.changed"


def change_outbox(*, channel: str = "slipway_outbox") -> Outbox:
    """The service's outbox (its table on the service's MetaData), woken on `channel`."""
    return Outbox(outbox_rows, channel=channel)


def as_event(change: ContextChanged) -> Event:
    """The slipway.events envelope of a change: on its namespace's stream, keyed by name."""
    return Event(
        stream=change.namespace,
        type=EVENT_TYPE,
        payload=change.to_json_dict(),
        key=change.name,
        id=str(change.event_id),
        occurred_at=change.occurred_at,
    )


@functools.cache
def _insert(table: sa.Table) -> sa.Insert:
    return sa.insert(table)


@functools.cache
def _notify(channel: str) -> sa.Executable:
    return notify_statement(channel)


class SqlOutbox:
    """The Outbox port: events inserted in the unit of work's transaction."""

    def __init__(self, outbox: Outbox, scope: ConnectionScope) -> None:
        self._outbox = outbox
        self._scope = scope

    async def add(self, event: ContextChanged) -> None:
        """Queue an event; it exists only if the change that raised it commits."""
        envelope = as_event(event)
        connection = await self._scope.transaction()
        await execute(
            connection,
            _insert(self._outbox.table),
            {
                "event_id": envelope.id,
                "stream": envelope.stream,
                "type": envelope.type,
                "key": envelope.key,
                "payload": dict(envelope.payload),
                "occurred_at": envelope.occurred_at,
            },
        )
        if self._scope.dialect_name == "postgresql":
            await execute(connection, _notify(self._outbox.channel), {})
        self._scope.on_commit(self._outbox.committed.fire)
