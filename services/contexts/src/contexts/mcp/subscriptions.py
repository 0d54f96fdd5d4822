"""Resource subscriptions: a namespace's change events as `notifications/resources/updated`.

Per MCP session, one background task per namespace that has a subscribed context reads the
namespace's `EventStream` and, for each event of a subscribed context newer than the version
the subscriber last knew, checks that the subscriber may still read that version (the
domain's ACL: a context it may no longer read is silently skipped, as if it did not exist)
and sends `notifications/resources/updated` for its URI on the session's standalone stream
(the client's GET /mcp stream).

Where reading starts: the stream has no "from now" position, so a watcher starts a little
in the past (`lookback_ms`, entry ids are `<ms>-<seq>` on both backends) and skips every event
whose version is not above the one seen when subscribing. That also covers the outbox relay's
delay: a change committed before the subscription but published after it is skipped, one
committed after it is sent, once.

A session's watchers end when it is unsubscribed from everything in the namespace, when the
session ends (the SDK closes its connection: DELETE, idle timeout, shutdown), when sending to
it fails, and at shutdown (`close`).
"""

import asyncio
import logging
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field

from mcp.server.session import ServerSession

from contexts.domain.errors import DomainError
from contexts.domain.model import Actor, ContextKey
from contexts.domain.relay import EventStream
from contexts.domain.service import ContextRegistry
from contexts.mcp.views import uri_of

logger = logging.getLogger(__name__)

READ_BATCH = 100
READ_BLOCK_MS = 5_000
LOOKBACK_MS = 60_000
# The wait after a failed stream read, doubled on each failure up to the maximum.
RETRY_SECONDS = 0.5
MAX_RETRY_SECONDS = 30.0


@dataclass
class _Subscriber:
    session: ServerSession
    actor: Actor
    # Subscribed contexts and the last version the subscriber is known to have seen.
    versions: dict[ContextKey, int] = field(default_factory=dict)
    watchers: dict[str, asyncio.Task[None]] = field(default_factory=dict)


class SubscriptionHub:
    """The subscriptions of every session, and the tasks that watch their namespaces."""

    def __init__(
        self,
        registry: Callable[[], ContextRegistry],
        stream: EventStream,
        *,
        read_block_ms: int = READ_BLOCK_MS,
        lookback_ms: int = LOOKBACK_MS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._registry = registry
        self._stream = stream
        self._read_block_ms = read_block_ms
        self._lookback_ms = lookback_ms
        self._clock = clock
        self._subscribers: dict[str, _Subscriber] = {}

    def sessions(self) -> int:
        """How many sessions have a subscription."""
        return len(self._subscribers)

    def subscribe(
        self, session_key: str, session: ServerSession, actor: Actor, key: ContextKey, version: int
    ) -> bool:
        """Subscribe a session to a context it has seen at `version`; True for a new session.

        The latest session object and actor are kept: notifications go out with them.
        """
        subscriber = self._subscribers.get(session_key)
        new_session = subscriber is None
        if subscriber is None:
            subscriber = self._subscribers[session_key] = _Subscriber(session, actor)
        subscriber.session, subscriber.actor = session, actor
        subscriber.versions[key] = max(version, subscriber.versions.get(key, 0))
        if key.namespace not in subscriber.watchers:
            subscriber.watchers[key.namespace] = asyncio.create_task(
                self._watch(session_key, subscriber, key.namespace),
                name=f"mcp-subscription:{key.namespace}",
            )
        return new_session

    def unsubscribe(self, session_key: str, key: ContextKey) -> None:
        """Forget one subscription; the namespace's watcher stops with its last one."""
        subscriber = self._subscribers.get(session_key)
        if subscriber is None:
            return
        subscriber.versions.pop(key, None)
        if not any(other.namespace == key.namespace for other in subscriber.versions):
            watcher = subscriber.watchers.pop(key.namespace, None)
            if watcher is not None:
                watcher.cancel()
        if not subscriber.versions:
            self._subscribers.pop(session_key, None)

    def drop(self, session_key: str) -> None:
        """Forget every subscription of a session and stop its watchers."""
        subscriber = self._subscribers.pop(session_key, None)
        if subscriber is not None:
            for watcher in subscriber.watchers.values():
                watcher.cancel()

    async def close(self) -> None:
        """Stop every watcher and wait for them."""
        watchers = [
            watcher
            for subscriber in self._subscribers.values()
            for watcher in subscriber.watchers.values()
        ]
        self._subscribers.clear()
        for watcher in watchers:
            watcher.cancel()
        for watcher in watchers:
            with suppress(asyncio.CancelledError):
                await watcher

    async def _watch(self, session_key: str, subscriber: _Subscriber, namespace: str) -> None:
        cursor = f"{max(0, int(self._clock() * 1000) - self._lookback_ms)}-0"
        delay = RETRY_SECONDS
        while True:
            try:
                entries = await self._stream.read(
                    namespace, after=cursor, limit=READ_BATCH, block_ms=self._read_block_ms
                )
            except Exception:
                logger.warning(
                    "event stream of %s unavailable; retrying in %.1fs",
                    namespace,
                    delay,
                    exc_info=True,
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, MAX_RETRY_SECONDS)
                continue
            delay = RETRY_SECONDS
            for entry in entries:
                cursor = entry.entry_id
                event = entry.event
                key = ContextKey(namespace=event.namespace, name=event.name)
                known = subscriber.versions.get(key)
                if known is None or event.version <= known:
                    continue
                try:
                    await self._registry().get_version(subscriber.actor, key, event.version)
                except DomainError:
                    continue  # no longer readable by the subscriber: not revealed
                subscriber.versions[key] = event.version
                try:
                    await subscriber.session.send_resource_updated(uri_of(key))
                except Exception:
                    logger.info("MCP session gone; dropping its subscriptions", exc_info=True)
                    self._subscribers.pop(session_key, None)
                    for other in subscriber.watchers.values():
                        if other is not asyncio.current_task():
                            other.cancel()
                    return
