"""`OutboxRelay`: moves committed outbox events to the event stream, at least once, in order.

Each round (`run_once`) takes the oldest unpublished events (up to `batch_size`), publishes
them to the stream in outbox order and only then marks them published. If publishing raises,
nothing is marked and the next round publishes the same batch again; if marking raises after
a successful publish, the batch is published twice. Consumers therefore see every event at
least once and, per context, in version order, but must tolerate repeats (dedupe on
`event_id`, or ignore a version not newer than the one already seen).

Run one relay per outbox: two relays reading the same outbox publish the same batch twice
and can interleave it with the next one, so a consumer may see an older version after a
newer one. (One instance with the relay enabled, or a lock held by the outbox source.)

As a slipway.web `Resource` the relay runs rounds in the background from start-up: right
away while batches come back full, every `poll_interval` when idle (or sooner after
`notify()`), and with exponential backoff up to `max_backoff` while the stream fails. A
failing stream never fails the app: writes keep committing to the outbox, the relay logs a
warning and the gauges show the backlog. It deliberately has no readiness check.
"""

import asyncio
import logging
import math
import time
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol, runtime_checkable

from prometheus_client import CollectorRegistry, Counter, Gauge

from contexts.domain.relay import EventStream, OutboxSource
from contexts.events.settings import EventsSettings
from slipway.observability.registry import MetricsPerRegistry

logger = logging.getLogger(__name__)


@runtime_checkable
class CountsPending(Protocol):
    """An outbox source that can count its backlog; the relay uses it for the lag gauge."""

    async def pending_count(self) -> int:
        """How many events are not yet published."""
        ...


@dataclass(frozen=True, slots=True)
class RelayMetrics:
    """The relay's metric families on one registry, labelled by relay name."""

    pending: Gauge
    oldest_pending_age: Gauge
    up: Gauge
    published: Counter
    failures: Counter


def _register(registry: CollectorRegistry) -> RelayMetrics:
    return RelayMetrics(
        pending=Gauge(
            "outbox_pending_events",
            "Outbox events not yet published (a lower bound when the source cannot count).",
            ("relay",),
            registry=registry,
        ),
        oldest_pending_age=Gauge(
            "outbox_oldest_pending_age_seconds",
            "Age of the oldest unpublished outbox event the relay knows of; 0 when caught up.",
            ("relay",),
            registry=registry,
        ),
        up=Gauge(
            "outbox_relay_up",
            "1 while the relay's last round succeeded, 0 while the stream fails.",
            ("relay",),
            registry=registry,
        ),
        published=Counter(
            "outbox_published_events",
            "Outbox events published to the stream (repeats after a failure included).",
            ("relay",),
            registry=registry,
        ),
        failures=Counter(
            "outbox_relay_failures",
            "Relay rounds that failed (nothing was marked published).",
            ("relay",),
            registry=registry,
        ),
    )


relay_metrics = MetricsPerRegistry(_register)


def backoff_delay(failures: int, base: float, cap: float) -> float:
    """The wait after `failures` consecutive failed rounds: base, 2 x base, 4 x base ... cap."""
    if failures < 1:
        return 0.0
    return min(cap, math.ldexp(base, min(failures - 1, 1_000)))


@dataclass(frozen=True, slots=True)
class RelayStatus:
    """A snapshot for health pages and logs; a failing stream makes `healthy` False only."""

    running: bool
    healthy: bool
    consecutive_failures: int
    last_error: str | None
    pending: int
    oldest_pending_age_seconds: float
    published: int
    last_success_at: datetime | None


class OutboxRelay:
    """Publishes the outbox to the stream; a slipway.web Resource running in the background."""

    def __init__(
        self,
        source: OutboxSource,
        stream: EventStream,
        *,
        batch_size: int = 100,
        poll_interval: float = 1.0,
        max_backoff: float = 30.0,
        stop_timeout: float = 5.0,
        name: str = "outbox-relay",
        registry: CollectorRegistry | None = None,
    ) -> None:
        if batch_size < 1 or poll_interval <= 0 or max_backoff <= 0:
            raise ValueError("batch_size, poll_interval and max_backoff must be positive")
        self.name = name
        self._source = source
        self._stream = stream
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.max_backoff = max_backoff
        self._stop_timeout = stop_timeout
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._consecutive_failures = 0
        self._last_error: str | None = None
        self._pending = 0
        self._oldest_pending_at: datetime | None = None
        self._published = 0
        self._last_success_at: datetime | None = None
        metrics = relay_metrics(registry)
        self._pending_gauge = metrics.pending.labels(name)
        self._up_gauge = metrics.up.labels(name)
        self._published_counter = metrics.published.labels(name)
        self._failures_counter = metrics.failures.labels(name)
        metrics.oldest_pending_age.labels(name).set_function(self._oldest_pending_age)
        self._up_gauge.set(1)

    @classmethod
    def from_settings(
        cls, source: OutboxSource, stream: EventStream, settings: EventsSettings
    ) -> "OutboxRelay":
        """A relay with the batch size, poll interval and backoff of `settings`."""
        return cls(
            source,
            stream,
            batch_size=settings.batch_size,
            poll_interval=settings.poll_interval_seconds,
            max_backoff=settings.max_backoff_seconds,
        )

    def __repr__(self) -> str:
        return f"OutboxRelay(name={self.name!r})"

    # -- one round -------------------------------------------------------------------------

    async def run_once(self) -> int:
        """Publish the oldest unpublished batch, then mark it; returns how many were published.

        Raises what the source or the stream raised; then nothing of the batch is marked
        (unless only marking failed) and the next round retries it.
        """
        try:
            batch = await self._source.pending(self.batch_size)
            if batch:
                self._oldest_pending_at = batch[0].event.occurred_at
                self._set_pending(max(self._pending, len(batch)))
                await self._stream.publish([pending.event for pending in batch])
                await self._source.mark_published([pending.position for pending in batch])
        except Exception as exc:
            self._consecutive_failures += 1
            self._last_error = f"{type(exc).__name__}: {exc}"
            self._failures_counter.inc()
            self._up_gauge.set(0)
            raise
        self._consecutive_failures = 0
        self._last_error = None
        self._last_success_at = datetime.now(UTC)
        self._up_gauge.set(1)
        self._published += len(batch)
        self._published_counter.inc(len(batch))
        if len(batch) < self.batch_size:
            self._oldest_pending_at = None
            self._set_pending(0)
        else:
            self._set_pending(await self._count_pending())
        return len(batch)

    async def _count_pending(self) -> int:
        if isinstance(self._source, CountsPending):
            with suppress(Exception):
                return await self._source.pending_count()
        return self.batch_size  # a full batch was published: probably more are waiting

    def _set_pending(self, count: int) -> None:
        self._pending = count
        self._pending_gauge.set(count)

    def _oldest_pending_age(self) -> float:
        if self._oldest_pending_at is None:
            return 0.0
        return max(0.0, (datetime.now(UTC) - self._oldest_pending_at).total_seconds())

    # -- background loop -------------------------------------------------------------------

    def notify(self) -> None:
        """Wake the idle relay now (call after a commit wrote to the outbox); cheap, sync.

        Ignored while the relay backs off from a failing stream."""
        self._wake.set()

    async def _pause(self, seconds: float, *, wakeable: bool) -> None:
        """Wait `seconds`, or less on stop (or on `notify()` when `wakeable`)."""
        event = self._wake if wakeable else self._stopping
        with suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await event.wait()

    async def _run(self) -> None:
        while not self._stopping.is_set():
            self._wake.clear()  # a notify() from here on triggers another round
            started = time.monotonic()
            try:
                published = await self.run_once()
            except Exception:
                delay = backoff_delay(
                    self._consecutive_failures, self.poll_interval, self.max_backoff
                )
                logger.warning(
                    "outbox relay round failed (%d in a row), retrying in %.1fs: %s",
                    self._consecutive_failures,
                    delay,
                    self._last_error,
                    exc_info=self._consecutive_failures == 1,
                )
                await self._pause(delay, wakeable=False)
                continue
            if published:
                logger.debug(
                    "outbox relay published %d events in %.3fs",
                    published,
                    time.monotonic() - started,
                )
            if published < self.batch_size:
                await self._pause(self.poll_interval, wakeable=True)
            else:
                await asyncio.sleep(0)  # a full batch: more are likely waiting

    async def start(self) -> None:
        """Start the background loop (Resource)."""
        if self._task is not None:
            return
        self._stopping.clear()
        self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        """Let the current round finish (up to `stop_timeout`), then stop (Resource).

        A round cut short between publishing and marking is published again by the next
        relay to start: at least once."""
        task, self._task = self._task, None
        if task is None:
            return
        self._stopping.set()
        self._wake.set()
        try:
            async with asyncio.timeout(self._stop_timeout):
                await asyncio.shield(task)
        except TimeoutError:
            logger.warning("outbox relay did not stop within %.1fs; cancelling", self._stop_timeout)
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task

    @property
    def running(self) -> bool:
        """Whether the background loop runs."""
        return self._task is not None and not self._task.done()

    def status(self) -> RelayStatus:
        """What the relay knows now: health, backlog, totals."""
        return RelayStatus(
            running=self.running,
            healthy=self._consecutive_failures == 0,
            consecutive_failures=self._consecutive_failures,
            last_error=self._last_error,
            pending=self._pending,
            oldest_pending_age_seconds=self._oldest_pending_age(),
            published=self._published,
            last_success_at=self._last_success_at,
        )
