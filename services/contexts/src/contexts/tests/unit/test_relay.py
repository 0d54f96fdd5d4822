"""OutboxRelay over the in-memory stream and an in-memory outbox: order, at least once,
marking only after publishing, backoff, waking, and never failing the app."""

import asyncio
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

import pytest
from prometheus_client import CollectorRegistry

from contexts.adapters.memory_stream import InMemoryEventStream
from contexts.domain.events import ChangeAction, ContextChanged
from contexts.domain.relay import PendingEvent
from contexts.events.relay import OutboxRelay, backoff_delay
from contexts.events.settings import EventsSettings


def changed(name: str, version: int = 1, namespace: str = "ns") -> ContextChanged:
    return ContextChanged(
        event_id=uuid.uuid4(),
        namespace=namespace,
        name=name,
        version=version,
        action=ChangeAction.CREATED if version == 1 else ChangeAction.UPDATED,
        etag=f'"{name}-{version}"',
        occurred_at=datetime.now(UTC),
        actor="subject:test",
    )


class MemoryOutbox:
    """An OutboxSource: events in commit order, a journal of what the relay did."""

    def __init__(self, journal: list[str] | None = None) -> None:
        self.events: list[PendingEvent] = []
        self.published: list[int] = []
        self.journal = journal if journal is not None else []
        self.fail_marks = 0

    def add(self, *events: ContextChanged) -> None:
        for event in events:
            self.events.append(PendingEvent(position=len(self.events) + 1, event=event))

    async def pending(self, limit: int) -> Sequence[PendingEvent]:
        done = set(self.published)
        batch = [p for p in self.events if p.position not in done][:limit]
        self.journal.append(f"pending {[p.position for p in batch]}")
        return batch

    async def mark_published(self, positions: Sequence[int]) -> None:
        if self.fail_marks:
            self.fail_marks -= 1
            raise ConnectionError("outbox database went away")
        self.journal.append(f"mark {list(positions)}")
        self.published.extend(positions)

    async def pending_count(self) -> int:
        return len(self.events) - len(self.published)


class FlakyStream(InMemoryEventStream):
    """The in-memory stream, failing the next `failures` publishes before appending."""

    def __init__(self, journal: list[str]) -> None:
        super().__init__(maxlen=None)
        self.journal = journal
        self.failures = 0

    async def publish(self, events: Sequence[ContextChanged]) -> None:
        names = [event.name for event in events]
        if self.failures:
            self.failures -= 1
            self.journal.append(f"publish failed {names}")
            raise ConnectionError("stream unavailable")
        self.journal.append(f"publish {names}")
        await super().publish(events)

    async def names(self, namespace: str = "ns") -> list[str]:
        entries = await self.read(namespace, after=None, limit=10_000, block_ms=0)
        return [entry.event.name for entry in entries]


class RecordingRelay(OutboxRelay):
    """Records every pause of the loop, and shortens it by `speedup`."""

    def __init__(self, *args: object, speedup: float = 1.0, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.pauses: list[tuple[float, bool]] = []
        self.speedup = speedup

    async def _pause(self, seconds: float, *, wakeable: bool) -> None:
        self.pauses.append((seconds, wakeable))
        await super()._pause(seconds / self.speedup, wakeable=wakeable)


@pytest.fixture
def journal() -> list[str]:
    return []


@pytest.fixture
def outbox(journal: list[str]) -> MemoryOutbox:
    return MemoryOutbox(journal)


@pytest.fixture
def stream(journal: list[str]) -> FlakyStream:
    return FlakyStream(journal)


def relay_for(outbox: MemoryOutbox, stream: FlakyStream, **options: float) -> OutboxRelay:
    return OutboxRelay(outbox, stream, registry=CollectorRegistry(), **options)  # type: ignore[arg-type]


async def eventually(condition: object, within: float = 2.0) -> None:
    deadline = time.monotonic() + within
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.005)


async def test_run_once_publishes_a_batch_in_outbox_order_then_marks_it(
    outbox: MemoryOutbox, stream: FlakyStream, journal: list[str]
) -> None:
    outbox.add(changed("a"), changed("b"), changed("a", 2))
    relay = relay_for(outbox, stream)

    assert await relay.run_once() == 3

    assert await stream.names() == ["a", "b", "a"]
    assert journal == ["pending [1, 2, 3]", "publish ['a', 'b', 'a']", "mark [1, 2, 3]"]
    assert await relay.run_once() == 0  # nothing left


async def test_batches_follow_each_other_in_order(
    outbox: MemoryOutbox, stream: FlakyStream
) -> None:
    outbox.add(*(changed(f"c{i}") for i in range(5)))
    relay = relay_for(outbox, stream, batch_size=2)

    assert [await relay.run_once() for _ in range(4)] == [2, 2, 1, 0]
    assert await stream.names() == [f"c{i}" for i in range(5)]
    assert outbox.published == [1, 2, 3, 4, 5]


async def test_a_failed_publish_marks_nothing_and_the_next_round_retries_the_same_batch(
    outbox: MemoryOutbox, stream: FlakyStream, journal: list[str]
) -> None:
    outbox.add(changed("a"), changed("b"))
    relay = relay_for(outbox, stream)
    stream.failures = 2

    for _ in range(2):
        with pytest.raises(ConnectionError):
            await relay.run_once()
        assert outbox.published == []
        assert await stream.names() == []
    status = relay.status()
    assert (status.healthy, status.consecutive_failures, status.pending) == (False, 2, 2)
    assert status.last_error == "ConnectionError: stream unavailable"
    assert status.oldest_pending_age_seconds >= 0

    outbox.add(changed("c"))
    assert await relay.run_once() == 3

    assert await stream.names() == ["a", "b", "c"]
    assert outbox.published == [1, 2, 3]
    assert not any(line.startswith("mark") for line in journal[: journal.index("mark [1, 2, 3]")])
    status = relay.status()
    assert (status.healthy, status.consecutive_failures, status.pending) == (True, 0, 0)
    assert status.oldest_pending_age_seconds == 0


async def test_a_failed_mark_republishes_the_batch_at_least_once(
    outbox: MemoryOutbox, stream: FlakyStream
) -> None:
    outbox.add(changed("a"), changed("b"))
    relay = relay_for(outbox, stream)
    outbox.fail_marks = 1

    with pytest.raises(ConnectionError):
        await relay.run_once()
    assert await relay.run_once() == 2

    # Published, not marked, published again: a repeat, never a loss or a reordering.
    assert await stream.names() == ["a", "b", "a", "b"]
    assert outbox.published == [1, 2]


async def test_pending_gauge_counts_the_backlog_after_a_full_batch(
    outbox: MemoryOutbox, stream: FlakyStream
) -> None:
    outbox.add(*(changed(f"c{i}") for i in range(5)))
    registry = CollectorRegistry()
    relay = OutboxRelay(outbox, stream, batch_size=2, registry=registry)

    await relay.run_once()

    assert relay.status().pending == 3
    assert registry.get_sample_value("outbox_pending_events", {"relay": "outbox-relay"}) == 3
    assert (
        registry.get_sample_value("outbox_published_events_total", {"relay": "outbox-relay"}) == 2
    )


def test_backoff_doubles_from_the_base_up_to_the_cap() -> None:
    assert [backoff_delay(n, 0.5, 5.0) for n in range(7)] == [0, 0.5, 1, 2, 4, 5, 5]
    assert backoff_delay(10_000, 1.0, 30.0) == 30.0


async def test_the_loop_backs_off_while_the_stream_fails_and_recovers(
    outbox: MemoryOutbox, stream: FlakyStream
) -> None:
    outbox.add(changed("a"), changed("b"))
    stream.failures = 5
    registry = CollectorRegistry()
    relay = RecordingRelay(
        outbox,
        stream,
        poll_interval=1.0,
        max_backoff=8.0,
        registry=registry,
        speedup=1_000,
    )

    await relay.start()
    await eventually(lambda: outbox.published == [1, 2])
    await relay.stop()

    backoffs = [seconds for seconds, wakeable in relay.pauses if not wakeable]
    assert backoffs == [1.0, 2.0, 4.0, 8.0, 8.0]
    assert relay.pauses[len(backoffs)] == (1.0, True)  # then back to polling
    assert await stream.names() == ["a", "b"]
    assert relay.status().healthy
    assert registry.get_sample_value("outbox_relay_failures_total", {"relay": "outbox-relay"}) == 5
    assert registry.get_sample_value("outbox_relay_up", {"relay": "outbox-relay"}) == 1


async def test_a_failing_stream_never_fails_start_or_stop(
    outbox: MemoryOutbox, stream: FlakyStream
) -> None:
    outbox.add(changed("a"))
    stream.failures = 1_000_000
    registry = CollectorRegistry()
    relay = OutboxRelay(outbox, stream, poll_interval=0.01, max_backoff=0.02, registry=registry)

    await relay.start()
    await eventually(lambda: relay.status().consecutive_failures >= 3)
    assert relay.status().running
    assert registry.get_sample_value("outbox_relay_up", {"relay": "outbox-relay"}) == 0
    await relay.stop()

    assert not relay.running
    assert outbox.published == []


async def test_full_batches_drain_without_waiting_for_the_poll_interval(
    outbox: MemoryOutbox, stream: FlakyStream
) -> None:
    outbox.add(*(changed(f"c{i}") for i in range(7)))
    relay = relay_for(outbox, stream, batch_size=2, poll_interval=60)

    await relay.start()
    await eventually(lambda: len(outbox.published) == 7, within=1)
    await relay.stop()

    assert await stream.names() == [f"c{i}" for i in range(7)]


async def test_notify_wakes_an_idle_relay_and_stop_is_prompt(
    outbox: MemoryOutbox, stream: FlakyStream
) -> None:
    relay = relay_for(outbox, stream, poll_interval=60)
    await relay.start()
    await asyncio.sleep(0.02)  # the first round found nothing and went idle

    outbox.add(changed("a"))
    relay.notify()
    await eventually(lambda: outbox.published == [1], within=1)

    started = time.monotonic()
    await relay.stop()
    assert time.monotonic() - started < 1
    assert not relay.running


async def test_from_settings_takes_batch_size_and_intervals(
    outbox: MemoryOutbox, stream: FlakyStream
) -> None:
    settings = EventsSettings(batch_size=7, poll_interval_seconds=0.25, max_backoff_seconds=9)

    relay = OutboxRelay.from_settings(outbox, stream, settings)

    assert (relay.batch_size, relay.poll_interval, relay.max_backoff) == (7, 0.25, 9)
    assert relay.name == "outbox-relay"
