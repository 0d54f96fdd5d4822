"""Keeping the index up to date from contexts' changes: pure logic over ports, no I/O.

contexts announces every change as a `context.changed` event (namespace, name, version,
action; never the body). For each one the `Indexer` fetches the context as it is now
(`ContextSource`), turns it into an `IndexedContext` (or a `Removal` when it is deleted or
gone) and applies it to the index under the event's id: delivery is at least once, and the
index records applied ids, so a repeat changes nothing; the version rule makes a late or
out-of-order event harmless too.

The `Follower` drives it from a `ChangeFeed` (contexts' aggregate Redis Stream through
search's consumer group, or contexts' HTTP event feed): it resumes where it stopped, and
backfills from contexts' catalog of every context first when it has no position (first
start, or its consumer group was deleted) or its position is behind what the stream still
keeps (the events in between are gone). The backfill takes the stream's newest position
before it starts and continues from there afterwards, so nothing written during it is missed;
and it removes what contexts no longer lists (deleted while the events were out of reach),
see `Indexer.backfill`.
"""

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, nullcontext
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from search.domain.model import Change, ContextRef, IndexedContext, Removal
from search.domain.ports import SearchIndex

logger = logging.getLogger("search.indexer")

DELETED = "deleted"
EMPTY_STREAM = "0-0"
# What the text of a body may hold at most (the index cuts longer texts itself).
MAX_TEXT_CHARS = 1_000_000


class SourceUnavailable(Exception):  # noqa: N818 - a condition, not a programming error
    """contexts cannot answer now (down, timing out, breaker open): try again later."""


class FeedUnavailable(Exception):  # noqa: N818
    """The change feed cannot be read now: reconnect later, from the stored position."""


class MalformedContextError(ValueError):
    """contexts answered with something that is not a context's representation."""


@dataclass(frozen=True, slots=True)
class ChangeNotice:
    """One `context.changed` event, as much of it as indexing needs."""

    event_id: str
    ref: ContextRef
    version: int
    deleted: bool
    occurred_at: datetime


@dataclass(frozen=True, slots=True)
class Delivery:
    """A feed entry at `position` (its stream entry id): a change, or None for an entry that
    is not one (skipped, but passed so that the position moves on)."""

    position: str
    notice: ChangeNotice | None


@dataclass(frozen=True, slots=True)
class FeedStart:
    """Where a feed stands when following starts.

    `position`: the last entry this follower consumed (None: it has none, first start or a
    deleted group); `oldest`: the oldest entry the stream keeps (None: empty); `newest`: the
    newest entry ("0-0" when empty)."""

    position: str | None
    oldest: str | None
    newest: str


class ContextSource(Protocol):
    """contexts' API, as search's service principal (which reads every context)."""

    async def current(self, ref: ContextRef) -> Mapping[str, Any] | None:
        """The context's current representation, None when it is gone (404, deleted);
        raises `SourceUnavailable` when contexts cannot answer."""
        ...

    async def catalog(self, cursor: str | None) -> tuple[Sequence[Mapping[str, Any]], str | None]:
        """A page of every live context of every namespace and the next page's cursor (None
        on the last); raises `SourceUnavailable`."""
        ...


class ChangeFeed(Protocol):
    """contexts' change events for this follower, with a position that survives restarts."""

    async def start(self) -> FeedStart:
        """Where this follower and the stream stand; raises `FeedUnavailable`."""
        ...

    async def resume_from(self, position: str) -> None:
        """Continue after `position` (the newest entry taken before a backfill)."""
        ...

    def deliveries(self) -> AsyncIterator[Delivery]:
        """The entries after the follower's position, live ones included, until the feed
        breaks (`FeedUnavailable`) or the follower stops."""
        ...

    async def done(self, delivery: Delivery) -> None:
        """`delivery` is applied: the follower's position moves past it (ack, checkpoint)."""
        ...


class IndexingMetrics(Protocol):
    """What indexing reports (Prometheus in the adapters)."""

    def applied(self, lag_seconds: float) -> None:
        """A change was applied, `lag_seconds` after it occurred in contexts."""
        ...

    def duplicate(self) -> None:
        """A delivery whose event was applied before (at-least-once delivery)."""
        ...

    def failed(self, reason: str) -> None:
        """A delivery could not be applied now (`unavailable`, retried) or ever
        (`malformed`, skipped)."""
        ...

    def backfilled(self, contexts: int) -> None:
        """A backfill put `contexts` contexts into the index."""
        ...

    def backfill_removed(self, contexts: int) -> None:
        """A backfill removed `contexts` contexts its catalog no longer listed."""
        ...


Clock = Callable[[], datetime]
Sleep = Callable[[float], Awaitable[None]]
EventScope = Callable[[ChangeNotice], AbstractAsyncContextManager[None]]
"""What each event is applied inside (the adapters: a request id and a span)."""


def _no_scope(_notice: ChangeNotice) -> AbstractAsyncContextManager[None]:
    return nullcontext()


def parse_notice(payload: Mapping[str, Any]) -> ChangeNotice | None:
    """The notice of a `context.changed` payload, None for anything else (other event types,
    malformed payloads: nothing indexing could act on)."""
    if payload.get("type") != "context.changed":
        return None
    try:
        namespace, name = payload["namespace"], payload["name"]
        version, action = payload["version"], payload["action"]
        event_id = str(payload["event_id"])
        occurred_at = datetime.fromisoformat(str(payload["occurred_at"]))
    except (KeyError, ValueError):
        return None
    valid = (
        isinstance(namespace, str)
        and isinstance(name, str)
        and isinstance(version, int)
        and not isinstance(version, bool)
        and version >= 1
        and isinstance(action, str)
        and occurred_at.tzinfo is not None
    )
    if not valid:
        return None
    return ChangeNotice(
        event_id=event_id,
        ref=ContextRef(namespace, name),
        version=version,
        deleted=action == DELETED,
        occurred_at=occurred_at,
    )


def _strings(value: Any) -> Iterator[str]:
    """Every string value in a JSON value, depth first, in document order (keys left out)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)


def searchable_text(name: str, labels: Mapping[str, str], body: Any) -> str:
    """The text a context is found by: its name, its labels (`key value`), then every string
    value of its body, one per line (numbers, booleans and keys are not text)."""
    parts = [name, *(f"{key} {value}" for key, value in sorted(labels.items()))]
    parts.extend(text for text in _strings(body) if text.strip())
    return "\n".join(parts)[:MAX_TEXT_CHARS]


def _entries(acl: Mapping[str, Any], field: str) -> frozenset[str]:
    found = acl.get(field, [])
    if not isinstance(found, list) or not all(isinstance(entry, str) for entry in found):
        raise MalformedContextError(f"acl.{field} is not a list of entries")
    return frozenset(found)


def change_of(representation: Mapping[str, Any], *, expected: ContextRef | None = None) -> Change:
    """The change a context's representation (as contexts renders it) makes to the index."""
    try:
        ref = ContextRef(str(representation["namespace"]), str(representation["name"]))
        version = representation["version"]
        if not isinstance(version, int) or isinstance(version, bool):
            raise MalformedContextError("version is not an integer")
        if expected is not None and ref != expected:
            raise MalformedContextError(f"asked for {expected}, got {ref}")
        if representation.get("deleted") is True:
            return Removal(ref=ref, version=version)
        labels = representation.get("labels") or {}
        acl = representation.get("acl") or {}
        if not isinstance(labels, Mapping) or not isinstance(acl, Mapping):
            raise MalformedContextError("labels or acl is not an object")
        labels = {str(key): str(value) for key, value in labels.items()}
        updated_at = datetime.fromisoformat(str(representation["updated_at"]))
        return IndexedContext(
            ref=ref,
            version=version,
            kind=str(representation["kind"]),
            labels=labels,
            owner=str(representation["owner"]),
            readers=_entries(acl, "readers"),
            writers=_entries(acl, "writers"),
            text=searchable_text(ref.name, labels, representation.get("body")),
            updated_at=updated_at,
        )
    except (KeyError, TypeError, ValueError) as error:
        if isinstance(error, MalformedContextError):
            raise
        raise MalformedContextError(f"not a context representation: {error!r}") from error


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential pauses between attempts: `base` doubling up to `cap` seconds."""

    base: float = 0.2
    cap: float = 10.0

    def delay(self, attempt: int) -> float:
        """The pause before attempt `attempt + 1` (attempt counts from 1)."""
        return float(min(self.cap, self.base * 2 ** max(attempt - 1, 0)))


class Indexer:
    """Applies contexts' changes to the index: one event at a time, or a whole backfill."""

    def __init__(
        self,
        index: SearchIndex,
        source: ContextSource,
        metrics: IndexingMetrics,
        *,
        clock: Clock,
        sleep: Sleep,
        backoff: Backoff | None = None,
    ) -> None:
        self._index = index
        self._source = source
        self._metrics = metrics
        self._clock = clock
        self._sleep = sleep
        self._backoff = backoff or Backoff()
        # Why the last attempt failed, None once one succeeded (for readiness).
        self.last_failure: str | None = None

    async def change_for(self, notice: ChangeNotice) -> Change:
        """What the notice's context is now: a removal when deleted or gone."""
        if notice.deleted:
            return Removal(ref=notice.ref, version=notice.version)
        representation = await self._source.current(notice.ref)
        if representation is None:
            # Gone since (deleted, or never readable): its removal at least at this version.
            return Removal(ref=notice.ref, version=notice.version)
        return change_of(representation, expected=notice.ref)

    async def apply(self, notice: ChangeNotice) -> bool:
        """Fetch and apply the notice's change once; False when its event was applied before.

        Raises `SourceUnavailable` (contexts down) and `MalformedContextError`; the index's own
        errors propagate (the database is down)."""
        change = await self.change_for(notice)
        applied = await self._index.apply(notice.event_id, change)
        if applied:
            lag = (self._clock() - notice.occurred_at).total_seconds()
            self._metrics.applied(max(lag, 0.0))
        else:
            self._metrics.duplicate()
        return applied

    async def apply_until_done(self, notice: ChangeNotice) -> bool:
        """`apply`, retried with backoff while contexts or the index fail; a context that
        cannot be indexed (malformed) is skipped, logged, so that it cannot stall the feed."""
        attempt = 0
        while True:
            attempt += 1
            try:
                applied = await self.apply(notice)
            except MalformedContextError as error:
                self.last_failure = None
                self._metrics.failed("malformed")
                logger.error("event %s of %s skipped: %s", notice.event_id, notice.ref, error)
                return False
            except Exception as error:  # contexts or the database: both come back
                self.last_failure = f"{type(error).__name__}: {error}"
                self._metrics.failed("unavailable")
                delay = self._backoff.delay(attempt)
                logger.warning(
                    "event %s of %s not applied (%s: %s); retrying in %.1fs",
                    notice.event_id,
                    notice.ref,
                    type(error).__name__,
                    error,
                    delay,
                )
                await self._sleep(delay)
            else:
                self.last_failure = None
                logger.info(
                    "indexed %s version %d (event %s): %s",
                    notice.ref,
                    notice.version,
                    notice.event_id,
                    "applied" if applied else "duplicate",
                )
                return applied

    async def backfill(self) -> int:
        """Put every live context of contexts' catalog into the index, then remove what the
        catalog no longer lists; how many it put.

        Each `put` keeps the version rule, so a newer version indexed meanwhile by an event
        stays. A page that fails is fetched again (backoff) from its cursor.

        The removal rule: the backfill begins a generation (`SearchIndex.begin_backfill`)
        before its first page. Once the pass is complete (the last page read), every live
        context of the index that the pass did not list and that no write has touched since
        the generation began is removed, as a deletion event removes it (a tombstone at the
        version it had). Such a context was not in contexts when the pass read its part of
        the catalog (pages are in (namespace, name) order after a cursor, so a context live
        all along is listed), and whatever contexts did with it since is an event after the
        position taken before the backfill, which follows it. A context an event indexed
        during the backfill (created behind the pass, by another instance or a concurrent
        backfill) was written in the generation and stays. An item that cannot be indexed
        (malformed) still counts as listed when its namespace and name can be read; when
        they cannot, the pass is not complete and nothing is removed this time."""
        generation = await self._index.begin_backfill()
        cursor: str | None = None
        count = 0
        attempt = 0
        complete = True
        while True:
            try:
                items, following = await self._source.catalog(cursor)
            except SourceUnavailable as error:
                attempt += 1
                self.last_failure = f"{type(error).__name__}: {error}"
                self._metrics.failed("unavailable")
                delay = self._backoff.delay(attempt)
                logger.warning("backfill page failed (%s); retrying in %.1fs", error, delay)
                await self._sleep(delay)
                continue
            attempt = 0
            self.last_failure = None
            for item in items:
                try:
                    change = change_of(item)
                except MalformedContextError as error:
                    self._metrics.failed("malformed")
                    logger.error("backfill skipped an item: %s", error)
                    ref = _ref_of(item)
                    if ref is None:
                        complete = False
                    else:
                        await self._index.keep(ref)
                    continue
                await self._index.put(change)
                count += 1
            if following is None:
                self._metrics.backfilled(count)
                if complete:
                    removed = await self._index.remove_unlisted(generation)
                    self._metrics.backfill_removed(removed)
                    logger.info("backfill removed %d contexts the catalog no longer has", removed)
                else:
                    logger.warning("backfill skipped unnamed catalog items: nothing removed")
                return count
            cursor = following


def _ref_of(item: Mapping[str, Any]) -> ContextRef | None:
    """The namespace and name of a catalog item, None when it has no such strings."""
    namespace, name = item.get("namespace"), item.get("name")
    if isinstance(namespace, str) and isinstance(name, str):
        return ContextRef(namespace, name)
    return None


def _entry_key(entry_id: str) -> tuple[int, int]:
    millis, _, sequence = entry_id.partition("-")
    return int(millis), int(sequence or 0)


def backfill_reason(start: FeedStart) -> str | None:
    """Why the follower must backfill before following, or None when it may just resume.

    - `no-position`: first start, or the position was lost (a deleted consumer group);
    - `behind-retention`: the stream no longer keeps the entry after the position (its
      oldest entry is newer than the position), so events in between may be gone;
    - `stream-reset`: the stream's newest entry is older than the position (the stream was
      deleted or, embedded, contexts restarted with an empty in-process stream).

    The position `0-0` (a backfill found the stream empty, nothing consumed since) is never
    behind: every entry the stream keeps came after it. What it cannot tell is whether more
    than the stream's retention was written before the first one was consumed."""
    if start.position is None:
        return "no-position"
    if start.position == EMPTY_STREAM:
        return None
    position = _entry_key(start.position)
    if start.oldest is not None and _entry_key(start.oldest) > position:
        return "behind-retention"
    if _entry_key(start.newest) < position:
        return "stream-reset"
    return None


class Follower:
    """Follows a feed for ever: backfill when needed, then each delivery applied and done.

    `run()` returns only when cancelled (the app stops); a broken feed is reconnected after
    a backoff, from the stored position, deciding again whether to backfill."""

    def __init__(
        self,
        indexer: Indexer,
        feed: ChangeFeed,
        *,
        sleep: Sleep,
        backoff: Backoff | None = None,
        scope: EventScope = _no_scope,
    ) -> None:
        self._indexer = indexer
        self._feed = feed
        self._sleep = sleep
        self._scope = scope
        self._backoff = backoff or Backoff(base=0.5, cap=30.0)
        self.connected = False
        self.last_error: str | None = None

    async def run(self) -> None:
        """Follow until cancelled."""
        attempt = 0
        while True:
            try:
                await self.follow_once()
                attempt = 0  # the feed ended cleanly (e.g. the server closed it): reconnect
            except FeedUnavailable as error:
                attempt += 1
                self.connected = False
                self.last_error = str(error)
                delay = self._backoff.delay(attempt)
                logger.warning("change feed unavailable (%s); reconnecting in %.1fs", error, delay)
                await self._sleep(delay)

    async def follow_once(self) -> None:
        """One connection's worth: start, backfill if needed, apply deliveries until the feed
        ends or breaks (`FeedUnavailable`)."""
        start = await self._feed.start()
        reason = backfill_reason(start)
        if reason is not None:
            logger.info("backfilling the index (%s), then following from %s", reason, start.newest)
            count = await self._indexer.backfill()
            logger.info("backfill put %d contexts", count)
            await self._feed.resume_from(start.newest)
        self.connected = True
        self.last_error = None
        async for delivery in self._feed.deliveries():
            if delivery.notice is not None:
                async with self._scope(delivery.notice):
                    await self._indexer.apply_until_done(delivery.notice)
            await self._feed.done(delivery)
        self.connected = False
