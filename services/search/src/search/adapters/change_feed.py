"""contexts' change events, as the `ChangeFeed` port: Redis consumer group, or HTTP SSE.

- `RedisGroupFeed` (Redis configured): contexts appends every event to its aggregate stream
  (`contexts:events:@all`); search follows it with its own consumer group (`search`) through
  slipway.events' `EventConsumer`: each event acknowledged after it was applied, entries a
  crashed instance left pending claimed once idle, the group's position kept by Redis.
- `HttpSseFeed` (the embedded default, no Redis): contexts' `GET /v1/events` without a
  namespace (server-sent events, for `contexts:index`), resumed with `Last-Event-ID`, the
  last applied entry id kept in search's database (`search_feed_checkpoints`, migration
  0002). The response's `Oldest-Event-ID` / `Newest-Event-ID` headers say what contexts'
  stream still keeps, so the follower can tell it fell behind before it reads an event.

Both say where the follower stands (`start`) so that `search.domain.indexer` decides whether
to backfill, and move to a position after a backfill (`resume_from`).
"""

import os
import socket
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import orjson
import sqlalchemy as sa
from httpx_sse import EventSource, ServerSentEvent
from redis.exceptions import RedisError
from sqlalchemy.dialects import postgresql, sqlite

from search.adapters.sql.tables import metadata
from search.domain.indexer import (
    ChangeNotice,
    Delivery,
    FeedStart,
    FeedUnavailable,
    parse_notice,
)
from slipway.auth import TokenUnavailableError
from slipway.db import Database, UtcDateTime
from slipway.events import EventConsumer, RetainedEventStream
from slipway.logging import get_logger

CHECKPOINTS_TABLE = "search_feed_checkpoints"
EVENTS_PATH = "/v1/events"
OLDEST_HEADER = "oldest-event-id"
NEWEST_HEADER = "newest-event-id"
CHANGE_EVENT = "context.changed"
CLOSE_EVENT = "stream.closed"
EMPTY_STREAM = "0-0"

_log = get_logger(__name__)

# The feed's position per follower: the last entry id applied (HTTP feed only; a Redis group
# keeps its own). One row per feed name.
feed_checkpoints = sa.Table(
    CHECKPOINTS_TABLE,
    metadata,
    sa.Column("feed", sa.String(255), primary_key=True),
    sa.Column("position", sa.String(64), nullable=False),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
)


def consumer_name() -> str:
    """This instance's consumer name in the group: host and process id."""
    return f"{socket.gethostname()}-{os.getpid()}"


class RedisGroupFeed:
    """The `ChangeFeed` port on a Redis Stream through search's own consumer group."""

    def __init__(
        self,
        streams: RetainedEventStream,
        *,
        stream: str,
        group: str,
        consumer: str,
        batch_size: int = 50,
        block_ms: int = 5_000,
        claim_idle_ms: int = 30_000,
    ) -> None:
        self._streams = streams
        self._stream = stream
        self._group = group
        self._consumer_name = consumer
        self._batch_size = batch_size
        self._block_ms = block_ms
        self._claim_idle_ms = claim_idle_ms
        self._consumer: EventConsumer | None = None

    async def start(self) -> FeedStart:
        """The group's last delivered id (None: no group) and what the stream keeps."""
        try:
            return FeedStart(
                position=await self._streams.group_position(self._stream, self._group),
                oldest=await self._streams.first_id(self._stream),
                newest=await self._streams.last_id(self._stream),
            )
        except (RedisError, OSError) as error:
            raise FeedUnavailable(f"redis: {error}") from error

    async def resume_from(self, position: str) -> None:
        """Create the group at `position`, or move it there."""
        try:
            await self._streams.set_group_position(self._stream, self._group, position)
        except (RedisError, OSError) as error:
            raise FeedUnavailable(f"redis: {error}") from error

    async def deliveries(self) -> AsyncIterator[Delivery]:
        """The group's entries for this consumer: claimed ones first, then new ones. Each is
        acknowledged when the next one is asked for (after the follower applied it)."""
        self._consumer = EventConsumer(
            self._streams,
            stream=self._stream,
            group=self._group,
            consumer=self._consumer_name,
            batch_size=self._batch_size,
            block_ms=self._block_ms,
            claim_idle_ms=self._claim_idle_ms,
        )
        try:
            async for event in self._consumer:
                yield Delivery(position=event.id, notice=parse_notice(event.payload))
        except (RedisError, OSError) as error:
            raise FeedUnavailable(f"redis: {error}") from error

    async def done(self, delivery: Delivery) -> None:
        """Nothing to do: `EventConsumer` acknowledges the entry when iteration resumes."""

    def stop(self) -> None:
        """End the iteration after the current event."""
        if self._consumer is not None:
            self._consumer.stop()


class SqlCheckpoints:
    """A feed's last applied position in `search_feed_checkpoints`."""

    def __init__(self, database: Database) -> None:
        self._database = database

    async def load(self, feed: str) -> str | None:
        """The stored position, None when there is none."""
        query = sa.select(feed_checkpoints.c.position).where(feed_checkpoints.c.feed == feed)
        async with self._database.sessionmaker() as session:
            found = await session.scalar(query)
        return None if found is None else str(found)

    async def save(self, feed: str, position: str) -> None:
        """Store `position` (insert or replace)."""
        values = {"feed": feed, "position": position, "updated_at": datetime.now(UTC)}
        async with self._database.unit_of_work() as uow:
            dialect = uow.session.get_bind().dialect.name
            insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
            statement = insert(feed_checkpoints).values(values)
            statement = statement.on_conflict_do_update(
                index_elements=["feed"],
                set_={"position": values["position"], "updated_at": values["updated_at"]},
            )
            await uow.session.execute(statement)


class HttpSseFeed:
    """The `ChangeFeed` port on contexts' SSE feed of every namespace, with a checkpoint."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        checkpoints: SqlCheckpoints,
        *,
        feed: str = "contexts",
    ) -> None:
        self._http = http
        self._checkpoints = checkpoints
        self._feed = feed
        self._position: str | None = None
        self._stopping = False

    async def start(self) -> FeedStart:
        """The stored position and, from one short request, what contexts' stream keeps."""
        self._position = await self._checkpoints.load(self._feed)
        try:
            async with self._http.stream("GET", EVENTS_PATH, headers=self._resume()) as response:
                self._check(response)
                oldest = response.headers.get(OLDEST_HEADER)
                newest = response.headers.get(NEWEST_HEADER, EMPTY_STREAM)
        except (httpx.HTTPError, TokenUnavailableError) as error:
            raise FeedUnavailable(f"contexts' event feed: {error}") from error
        return FeedStart(position=self._position, oldest=oldest, newest=newest)

    async def resume_from(self, position: str) -> None:
        """Store `position`: the next connection resumes after it."""
        await self._checkpoints.save(self._feed, position)
        self._position = position

    async def deliveries(self) -> AsyncIterator[Delivery]:
        """The events after the position, until contexts closes the stream or it breaks."""
        try:
            async with self._http.stream("GET", EVENTS_PATH, headers=self._resume()) as response:
                self._check(response)
                # httpx-sse parses the stream (WHATWG rules: multi-line data, comments, the
                # last event id carried over, ids holding NUL ignored); SSEError, a wrong
                # content type, is an httpx.TransportError.
                async for event in EventSource(response).aiter_sse():
                    if event.event == CLOSE_EVENT:
                        _log.info("contexts closed the event feed", reason=event.data)
                        return
                    if event.event != CHANGE_EVENT or not event.id:
                        continue
                    yield Delivery(position=event.id, notice=_notice_of(event))
                    if self._stopping:
                        return
        except (httpx.HTTPError, TokenUnavailableError) as error:
            raise FeedUnavailable(f"contexts' event feed: {error}") from error

    async def done(self, delivery: Delivery) -> None:
        """Store the delivery's entry id as the position (after it was applied)."""
        await self._checkpoints.save(self._feed, delivery.position)
        self._position = delivery.position

    def stop(self) -> None:
        """End the iteration after the current event."""
        self._stopping = True

    def _resume(self) -> dict[str, str]:
        headers = {"Accept": "text/event-stream"}
        if self._position is not None:
            headers["Last-Event-ID"] = self._position
        return headers

    @staticmethod
    def _check(response: httpx.Response) -> None:
        if response.status_code != 200:
            raise FeedUnavailable(f"contexts' event feed answered {response.status_code}")


def _notice_of(event: ServerSentEvent) -> ChangeNotice | None:
    try:
        payload = orjson.loads(event.data)
    except orjson.JSONDecodeError:
        _log.warning("undecodable event skipped", entry_id=event.id)
        return None
    return parse_notice(payload) if isinstance(payload, dict) else None
