"""`OutboxRelay`: moves committed outbox events to an `EventPublisher`, at least once, in order.

Each round reads the oldest unpublished events (up to `batch_size`, by position), publishes
them and only then marks them published. A round that fails to publish marks nothing and is
retried with exponential backoff; events wait in the outbox meanwhile, none is lost. A crash
(or a lost database connection) after the publish and before the mark publishes that batch
again in the next round, possibly by another instance: delivery is at least once, and
`Event.id` is stable across repeats so consumers de-duplicate on it.

Wake-ups: the outbox's `CommitSignal` (this process, right after a commit), PostgreSQL
`LISTEN` on the outbox channel (every process; `Outbox.add` issues `pg_notify` in the writing
transaction), and a fallback poll (`poll_interval_seconds`, 5 s by default) only for what
neither reached, e.g. rows written by a process that does not use `Outbox.add`.

Several instances on PostgreSQL: each relay holds one dedicated connection (see
`slipway.events.leadership`) on which it LISTENs, holds a session-level advisory lock and runs
its rounds. The lock holder publishes; the others stand by and retry the lock every
`lock_retry_seconds` (which bounds the takeover delay). If the holder stops, dies or loses its
connection, the server frees the lock and a standby takes over. On SQLite (embedded, one
process) there is no lock and no LISTEN: run one relay per outbox file.
"""

import asyncio
import logging
import math
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime

from prometheus_client import CollectorRegistry
from sqlalchemy.ext.asyncio import AsyncConnection

from slipway.db import Database
from slipway.events.leadership import PostgresLeadership
from slipway.events.metrics import relay_metrics
from slipway.events.notify import Unsubscribe
from slipway.events.outbox import Outbox, PendingEvent
from slipway.events.ports import EventPublisher
from slipway.events.settings import OutboxSettings

logger = logging.getLogger("slipway.events")

DEFAULT_STOP_TIMEOUT_SECONDS = 5.0


def backoff_delay(failures: int, base: float, cap: float) -> float:
    """The wait after `failures` consecutive failed rounds: base, 2 x base, 4 x base ... cap."""
    if failures < 1:
        return 0.0
    return min(cap, math.ldexp(base, min(failures - 1, 1_000)))


@dataclass(frozen=True, slots=True)
class RelayStatus:
    """A snapshot for health pages and logs; a failing publisher makes `healthy` False only."""

    running: bool
    leader: bool
    healthy: bool
    consecutive_failures: int
    last_error: str | None
    pending: int
    oldest_pending_age_seconds: float
    published: int
    last_success_at: datetime | None


class _PublishError(Exception):
    """The publisher raised; the database connection is fine and stays."""


class OutboxRelay:
    """Publishes an outbox's committed events; a slipway.web `Resource` (list it after the
    Database it reads from)."""

    def __init__(
        self,
        database: Database,
        outbox: Outbox,
        publisher: EventPublisher,
        *,
        settings: OutboxSettings | None = None,
        name: str = "outbox-relay",
        stop_timeout_seconds: float = DEFAULT_STOP_TIMEOUT_SECONDS,
        registry: CollectorRegistry | None = None,
    ) -> None:
        self.name = name
        self.settings = settings or OutboxSettings()
        self._database = database
        self._outbox = outbox
        self._publisher = publisher
        self._stop_timeout = stop_timeout_seconds
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._unsubscribe: Unsubscribe | None = None
        self._leadership = PostgresLeadership(
            database, table=outbox.table, channel=outbox.channel, wake=self._wake.set
        )
        self.lock_key = self._leadership.lock_key
        self._leader = False
        self._failures = 0
        self._last_error: str | None = None
        self._pending = 0
        self._oldest_pending_at: datetime | None = None
        self._published = 0
        self._last_success_at: datetime | None = None
        metrics = relay_metrics(registry)
        self._pending_gauge = metrics.pending.labels(name)
        self._up_gauge = metrics.up.labels(name)
        self._leader_gauge = metrics.leader.labels(name)
        self._published_counter = metrics.published.labels(name)
        self._failures_counter = metrics.failures.labels(name)
        metrics.oldest_pending_age.labels(name).set_function(self._oldest_pending_age)
        self._up_gauge.set(1)
        self._leader_gauge.set(0)

    def __repr__(self) -> str:
        return f"OutboxRelay(name={self.name!r}, outbox={self._outbox!r})"

    @property
    def _uses_lock(self) -> bool:
        return self._database.engine.dialect.name == "postgresql"

    # -- Resource --------------------------------------------------------------------------

    async def start(self) -> None:
        """Subscribe to the commit signal, LISTEN (PostgreSQL), start the background loop."""
        if self._task is not None:
            return
        self._stopping.clear()
        self._unsubscribe = self._outbox.committed.subscribe_event(self._wake)
        if self._uses_lock:
            try:
                await self._leadership.open()
            except BaseException:
                self._unsubscribe()
                self._unsubscribe = None
                raise
        self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        """Let the current round finish (up to the stop timeout), then close the connection.

        Closing it frees the lock at once: a standby relay takes over within its retry."""
        task, self._task = self._task, None
        self._stopping.set()
        self._wake.set()
        if task is not None:
            try:
                async with asyncio.timeout(self._stop_timeout):
                    await asyncio.shield(task)
            except TimeoutError:
                logger.warning("outbox relay %s did not stop in time; cancelling", self.name)
                task.cancel()
                with suppress(asyncio.CancelledError):
                    await task
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        await self._leadership.close()
        self._set_leader(False)

    @property
    def running(self) -> bool:
        """Whether the background loop runs."""
        return self._task is not None and not self._task.done()

    @property
    def leader(self) -> bool:
        """Whether this relay is the one publishing its outbox (always, on SQLite)."""
        return self._leader

    def notify(self) -> None:
        """Wake the relay now (the commit signal and NOTIFY already do); cheap, sync."""
        self._wake.set()

    def status(self) -> RelayStatus:
        """What the relay knows now: leadership, health, backlog, totals."""
        return RelayStatus(
            running=self.running,
            leader=self._leader,
            healthy=self._failures == 0,
            consecutive_failures=self._failures,
            last_error=self._last_error,
            pending=self._pending,
            oldest_pending_age_seconds=self._oldest_pending_age(),
            published=self._published,
            last_success_at=self._last_success_at,
        )

    # -- leadership ------------------------------------------------------------------------

    async def _lead(self) -> bool:
        """Whether this relay may publish now (always on SQLite; with the lock on PostgreSQL)."""
        was_leader = self._leader
        leader = await self._leadership.acquire() if self._uses_lock else True
        self._set_leader(leader)
        if leader and not was_leader:
            logger.info("outbox relay %s is now publishing %s", self.name, self._outbox)
        return leader

    def _set_leader(self, leader: bool) -> None:
        self._leader = leader
        self._leader_gauge.set(1 if leader else 0)
        if not leader:
            self._set_backlog(0, None)  # the leader reports the backlog, not standbys

    @asynccontextmanager
    async def _round_connection(self) -> AsyncIterator[AsyncConnection]:
        if self._uses_lock:
            yield self._leadership.connection
            return
        async with self._database.engine.connect() as connection:
            yield connection

    # -- one round -------------------------------------------------------------------------

    async def _round(self) -> int:
        """Publish the committed events batch by batch, marking each; how many were published.

        A batch's mark and the read of the next batch share one transaction, so a backlog, or
        commits that arrived while a batch was being published (a wake-up during the round),
        cost one transaction per batch rather than a read, a mark and a backlog count each.
        The next batch is read only then: an idle relay's round stays one read and one mark.
        """
        batch_size = self.settings.batch_size
        published = 0
        backlog_left = False  # stopping after a full batch: the counted backlog stays shown
        async with self._round_connection() as connection:
            async with connection.begin():
                batch = await self._outbox.pending(connection, batch_size)
            while batch:
                self._oldest_pending_at = batch[0].event.occurred_at
                self._set_backlog(max(self._pending, len(batch)), self._oldest_pending_at)
                await self._publish(batch)
                full = len(batch) == batch_size
                more = (full or self._wake.is_set()) and not self._stopping.is_set()
                if more:
                    # Cleared before the read: a commit that read misses wakes another round.
                    self._wake.clear()
                async with connection.begin():
                    await self._outbox.mark_published(connection, [p.position for p in batch])
                    if full:
                        backlog = await self._outbox.backlog(connection)
                        self._set_backlog(backlog.count, backlog.oldest_occurred_at)
                    next_batch = await self._outbox.pending(connection, batch_size) if more else []
                self._count_published(len(batch))
                published += len(batch)
                backlog_left = full and not more
                batch = next_batch
            if not backlog_left:
                self._set_backlog(0, None)
        self._count_published(0)
        return published

    def _count_published(self, count: int) -> None:
        """A batch of `count` events (0: a round) succeeded: health and totals."""
        self._failures = 0
        self._last_error = None
        self._last_success_at = datetime.now(UTC)
        self._up_gauge.set(1)
        if count:
            self._published += count
            self._published_counter.inc(count)

    async def _publish(self, batch: list[PendingEvent]) -> None:
        try:
            await self._publisher.publish([pending.event for pending in batch])
        except Exception as exc:
            raise _PublishError(f"{type(exc).__name__}: {exc}") from exc

    async def _failed(self, exc: Exception) -> float:
        """Count the failure, refresh the backlog gauges, drop a broken connection; the delay."""
        self._failures += 1
        self._failures_counter.inc()
        self._up_gauge.set(0)
        if isinstance(exc, _PublishError):
            self._last_error = str(exc)
            with suppress(Exception):
                async with self._round_connection() as connection, connection.begin():
                    backlog = await self._outbox.backlog(connection)
                self._set_backlog(backlog.count, backlog.oldest_occurred_at)
        else:
            self._last_error = f"{type(exc).__name__}: {exc}"
            if self._uses_lock:
                await self._leadership.close()  # a fresh connection (and lock) next round
                self._set_leader(False)
        delay = backoff_delay(
            self._failures, self.settings.retry_base_seconds, self.settings.max_backoff_seconds
        )
        logger.warning(
            "outbox relay %s round failed (%d in a row), retrying in %.1fs: %s",
            self.name,
            self._failures,
            delay,
            self._last_error,
            exc_info=self._failures == 1,
        )
        return delay

    def _set_backlog(self, count: int, oldest: datetime | None) -> None:
        self._pending = count
        self._oldest_pending_at = oldest
        self._pending_gauge.set(count)

    def _oldest_pending_age(self) -> float:
        if self._oldest_pending_at is None:
            return 0.0
        return max(0.0, (datetime.now(UTC) - self._oldest_pending_at).total_seconds())

    # -- background loop -------------------------------------------------------------------

    async def _pause(self, seconds: float, *, wakeable: bool) -> None:
        """Wait `seconds`, or less on stop (or on a wake-up when `wakeable`)."""
        event = self._wake if wakeable else self._stopping
        with suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await event.wait()

    async def _run(self) -> None:
        settings = self.settings
        while not self._stopping.is_set():
            self._wake.clear()  # a wake-up from here on triggers another round
            started = time.monotonic()
            try:
                leading = await self._lead()
                published = await self._round() if leading else 0
            except Exception as exc:
                await self._pause(await self._failed(exc), wakeable=False)
                continue
            if not leading:
                # Standbys ignore wake-ups: the holder publishes those events, and a lock
                # attempt per commit would cost a query per commit per standby.
                await self._pause(settings.lock_retry_seconds, wakeable=False)
            else:
                # The round drained what it could see; a commit it missed set the wake-up.
                if published:
                    logger.debug(
                        "outbox relay %s published %d events in %.3fs",
                        self.name,
                        published,
                        time.monotonic() - started,
                    )
                await self._pause(settings.poll_interval_seconds, wakeable=True)
