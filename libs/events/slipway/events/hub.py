"""`StreamHub`: one reader per process fans a `MultiplexedEventStream` out to subscribers.

The reader follows every stream that has a subscriber with one `read_many` (on Redis: one
XREAD over all their keys, one pooled connection), however many SSE streams or watchers the
process serves. A stream gaining its first subscriber interrupts the read in flight so the
next one includes it. Limits per principal and in total are checked before anything is
read; a subscriber that falls `queue_size` entries behind is dropped ("slow consumer").

When reads fail the reader retries with backoff, keeping its positions, so subscribers miss
nothing if the stream comes back within `unavailable_after_seconds`; after that they are
closed with "event stream unavailable" and clients resume with `Last-Event-ID`.
"""

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge

from slipway.events.entry_ids import EntryKey, format_entry_id, parse_entry_id
from slipway.events.envelope import StreamEntry
from slipway.events.fanout_settings import FanoutSettings
from slipway.events.ports import EventStream, MultiplexedEventStream
from slipway.events.subscription import (
    EventStreamUnavailable,
    SubscriberDropped,
    Subscription,
    SubscriptionClosed,
    TooManySubscriptions,
)
from slipway.observability.registry import MetricsPerRegistry

logger = logging.getLogger("slipway.events")


@dataclass(frozen=True, slots=True)
class HubMetrics:
    """The hub's metric families on one registry, labelled by hub name."""

    subscribers: Gauge
    dropped: Counter
    refused: Counter
    reader_up: Gauge


def _register(registry: CollectorRegistry) -> HubMetrics:
    return HubMetrics(
        subscribers=Gauge(
            "stream_hub_subscribers",
            "Open subscriptions of the process's stream hub.",
            ("hub",),
            registry=registry,
        ),
        dropped=Counter(
            "stream_hub_dropped_subscribers",
            "Subscriptions the hub ended itself, by reason (slow consumer, unavailable).",
            ("hub", "reason"),
            registry=registry,
        ),
        refused=Counter(
            "stream_hub_refused_subscriptions",
            "Subscriptions refused for a limit, by scope (principal, total).",
            ("hub", "scope"),
            registry=registry,
        ),
        reader_up=Gauge(
            "stream_hub_reader_up",
            "1 while the hub's last read succeeded, 0 while reads fail.",
            ("hub",),
            registry=registry,
        ),
    )


hub_metrics = MetricsPerRegistry(_register)

SHUTTING_DOWN = "server shutting down"
# How often a read that ignored its cancellation is cancelled again.
_RECANCEL_SECONDS = 0.05


class StreamHub:
    """The process's one reader of `stream`, shared by every subscriber (a slipway.web Resource).

    ```python
    hub = StreamHub(RedisEventStream(redis), settings.fanout)  # in ServiceParts.resources
    async with hub.subscribe("invoices", principal=user.id, after=last_event_id) as sub:
        async for entry in sub:
            ...
    ```
    """

    def __init__(
        self,
        stream: MultiplexedEventStream,
        settings: FanoutSettings | None = None,
        *,
        name: str = "stream-hub",
        registry: CollectorRegistry | None = None,
    ) -> None:
        self.name = name
        self.settings = settings or FanoutSettings()
        self._stream = stream
        metrics = hub_metrics(registry)
        self._subscribers_gauge = metrics.subscribers.labels(hub=name)
        self._dropped = metrics.dropped
        self._refused = metrics.refused
        self._reader_up = metrics.reader_up.labels(hub=name)
        self._cursors: dict[str, str] = {}
        self._by_stream: dict[str, set[Subscription]] = {}
        self._by_principal: defaultdict[str, int] = defaultdict(int)
        self._count = 0
        self._added = asyncio.Event()
        self._reader: asyncio.Task[None] | None = None
        self._stopped = False

    def __repr__(self) -> str:
        return f"StreamHub(name={self.name!r})"

    # -- Resource --------------------------------------------------------------------------

    async def start(self) -> None:
        """Start the reader task (it reads only while some stream has a subscriber)."""
        if self._reader is None:
            self._stopped = False
            self._reader = asyncio.create_task(self._read_forever(), name=self.name)

    async def stop(self) -> None:
        """Stop the reader and end every subscription with "server shutting down"."""
        self._stopped = True
        reader, self._reader = self._reader, None
        if reader is not None:
            reader.cancel()
            with suppress(asyncio.CancelledError):
                await reader
        self._end_all(SubscriptionClosed(SHUTTING_DOWN), count_as=None)

    # -- subscribing -----------------------------------------------------------------------

    def subscribe(self, stream: str, *, principal: str, after: str | None = None) -> Subscription:
        """A subscription to `stream` for `principal`, resuming after the entry id `after`
        (None: live from now on); enter it (or `await .open()`) to register.

        ValueError on a malformed `after`; on opening, `TooManySubscriptions` past a limit
        and `EventStreamUnavailable` when the stream cannot be read.
        """
        return Subscription(self, stream, principal=principal, after=after)

    def subscriber_count(self, principal: str | None = None) -> int:
        """Open subscriptions, of one principal or in total."""
        return self._count if principal is None else self._by_principal.get(principal, 0)

    def followed_streams(self) -> frozenset[str]:
        """The streams the reader follows (those with a subscriber)."""
        return frozenset(self._cursors)

    # -- SubscriptionRegistry (called by Subscription) -------------------------------------

    @property
    def event_stream(self) -> EventStream:
        """The stream subscriptions read their backlog from."""
        return self._stream

    @property
    def replay_batch(self) -> int:
        """Entries per backlog page when resuming."""
        return self.settings.replay_batch

    @property
    def queue_size(self) -> int:
        """Entries buffered per subscriber."""
        return self.settings.queue_size

    async def register(self, subscription: Subscription) -> EntryKey:
        """Check the limits, follow the stream; the id after which live entries are delivered."""
        if self._reader is None:
            if self._stopped:
                raise SubscriptionClosed(SHUTTING_DOWN)
            raise RuntimeError(f"{self!r} is not started")
        self._reserve(subscription.principal)
        stream = subscription.stream
        try:
            newest = None if stream in self._cursors else await self._stream.last_id(stream)
        except Exception as exc:
            self._release(subscription.principal)
            logger.warning("event stream %s unavailable", stream, exc_info=True)
            raise EventStreamUnavailable() from exc
        except BaseException:
            self._release(subscription.principal)
            raise
        # No await from here on: the position and the registration are taken together.
        if stream not in self._cursors:
            self._cursors[stream] = newest or "0-0"
            self._by_stream[stream] = set()
            self._added.set()
        self._by_stream[stream].add(subscription)
        self._subscribers_gauge.inc()
        return parse_entry_id(self._cursors[stream])

    def unregister(self, subscription: Subscription) -> None:
        """Stop delivering to it; the reader stops following a stream left without any."""
        subscribers = self._by_stream.get(subscription.stream)
        if subscribers is None or subscription not in subscribers:
            return
        subscribers.discard(subscription)
        if not subscribers:
            del self._by_stream[subscription.stream]
            del self._cursors[subscription.stream]
        self._release(subscription.principal)
        self._subscribers_gauge.dec()

    # -- internals -------------------------------------------------------------------------

    def _reserve(self, principal: str) -> None:
        limits, retry_after = self.settings, self.settings.retry_after_seconds
        if self._by_principal.get(principal, 0) >= limits.per_principal:
            self._refuse(TooManySubscriptions("principal", limits.per_principal, retry_after))
        if self._count >= limits.total:
            self._refuse(TooManySubscriptions("total", limits.total, retry_after))
        self._by_principal[principal] += 1
        self._count += 1

    def _refuse(self, refusal: TooManySubscriptions) -> None:
        self._refused.labels(hub=self.name, scope=refusal.scope).inc()
        raise refusal

    def _release(self, principal: str) -> None:
        self._count -= 1
        remaining = self._by_principal[principal] - 1
        if remaining > 0:
            self._by_principal[principal] = remaining
        else:
            del self._by_principal[principal]

    def _end(self, subscription: Subscription, reason: SubscriptionClosed) -> None:
        self.unregister(subscription)
        subscription.end(reason)
        self._dropped.labels(hub=self.name, reason=reason.reason).inc()

    def _end_all(self, reason: SubscriptionClosed, *, count_as: str | None) -> None:
        everyone = [sub for subs in self._by_stream.values() for sub in subs]
        for subscription in everyone:
            self.unregister(subscription)
            subscription.end(reason)
        if count_as is not None and everyone:
            self._dropped.labels(hub=self.name, reason=count_as).inc(len(everyone))

    async def _read_forever(self) -> None:
        delay = self.settings.retry_base_seconds
        failing_since: float | None = None
        self._reader_up.set(1)
        while True:
            if not self._cursors:
                self._added.clear()
                await self._added.wait()
                continue
            try:
                found = await self._read_or_restart()
            except Exception:
                now = time.monotonic()
                failing_since = failing_since if failing_since is not None else now
                self._reader_up.set(0)
                logger.warning("event stream read failed; retrying in %.1fs", delay, exc_info=True)
                if now - failing_since >= self.settings.unavailable_after_seconds:
                    unavailable = EventStreamUnavailable()
                    self._end_all(unavailable, count_as=unavailable.reason)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.settings.max_backoff_seconds)
                continue
            if failing_since is not None:
                failing_since, delay = None, self.settings.retry_base_seconds
                self._reader_up.set(1)
            if found is not None:
                self._dispatch(found)

    async def _read_or_restart(self) -> Mapping[str, Sequence[StreamEntry]] | None:
        """One read over every followed stream; None when a new stream interrupted it."""
        self._added.clear()
        settings = self.settings
        reading = asyncio.ensure_future(
            self._stream.read_many(
                dict(self._cursors), limit=settings.read_batch, block_ms=settings.read_block_ms
            )
        )
        added = asyncio.ensure_future(self._added.wait())
        try:
            await asyncio.wait({reading, added}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            added.cancel()
            await _cancel(reading)
        return None if reading.cancelled() else reading.result()

    def _dispatch(self, found: Mapping[str, Sequence[StreamEntry]]) -> None:
        for stream, entries in found.items():
            subscribers = self._by_stream.get(stream)
            if not subscribers:
                continue  # its last subscriber left while the read was in flight
            position = parse_entry_id(self._cursors[stream])
            for entry in entries:
                key = parse_entry_id(entry.entry_id)
                if key <= position:
                    continue  # the stream was followed again from a later position
                position = key
                for subscription in list(subscribers):
                    if not subscription.offer(entry):
                        self._end(subscription, SubscriberDropped())
            if stream in self._cursors:
                self._cursors[stream] = format_entry_id(position)


async def _cancel(task: "asyncio.Future[Mapping[str, Sequence[StreamEntry]]]") -> None:
    """Cancel a read and wait until it has ended.

    redis-py can swallow a cancellation that lands while it opens a connection, and the
    sliced read then blocks on to its deadline; cancelling again until it takes keeps a
    stream's join (and shutdown) prompt.
    """
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=_RECANCEL_SECONDS)
    if not task.cancelled():
        task.exception()  # retrieved, so asyncio does not log it as never retrieved
