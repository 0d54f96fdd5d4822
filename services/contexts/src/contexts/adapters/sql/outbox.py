"""The domain's Outbox port on slipway.events: change events written in the change's transaction.

`SqlOutbox` turns each `ContextChanged` into a slipway.events `Event` (stream = the namespace,
key = the context's name, id = the event's `event_id`, so repeats keep their identity) and
adds it through the shared `slipway.events.Outbox`, which also wakes the relay on commit.
"""

from sqlalchemy.ext.asyncio import AsyncSession

from contexts.adapters.sql.tables import outbox as outbox_rows
from contexts.domain.events import ContextChanged
from slipway.events import Event, Outbox

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


class SqlOutbox:
    """The Outbox port: events inserted in the session's transaction (the unit of work's)."""

    def __init__(self, outbox: Outbox, session: AsyncSession) -> None:
        self._outbox = outbox
        self._session = session

    async def add(self, event: ContextChanged) -> None:
        """Queue an event; it exists only if the change that raised it commits."""
        await self._outbox.add(self._session, as_event(event))
