"""Resource subscriptions: a namespace's change events as `notifications/resources/updated`.

Two kinds of subscriber, one mechanism:

- a 2025-11-25 session (`subscribe`/`unsubscribe`, one context at a time): the notification
  goes out on the session's standalone stream (the client's GET /mcp stream);
- a 2026-07-28 `subscriptions/listen` stream (`listen`, every context at once, for the
  stream's lifetime): the notification goes to the stream's callback (see `server`).

On the process's slipway.events `StreamHub` (the same one reader as `/v1/events`): per
subscriber, one hub subscription per namespace that has a subscribed context, counted against
the same per-caller and total limits as event streams. For each event of a subscribed context
newer than the version the subscriber last knew, and only if the subscriber may read that
context (`EventVisibility`, shared with SSE: the latest version's ACL governs), the subscriber
is told its URI. Other events are skipped, as if they did not exist.

A hub subscription starts live at the moment it opens; a change committed before the
subscription and published after it is skipped by the version check, one committed after it
is sent, once. When the hub ends a subscription (slow consumer, stream unavailable) the
watcher opens a new one after the last entry it saw, so nothing is missed.

A session's watchers end when it is unsubscribed from everything in the namespace, when the
session ends (the SDK closes its connection: DELETE, idle timeout, shutdown), when sending to
it fails, and at shutdown (`close`); a listen stream's when it ends (`drop`) or at shutdown.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from contextlib import suppress
from dataclasses import dataclass, field

from mcp.server.session import ServerSession

from contexts.domain.model import Actor, ContextKey
from contexts.events.visibility import EventVisibility
from contexts.mcp.views import uri_of
from slipway.events import StreamEntry, StreamHub, Subscription, SubscriptionClosed
from slipway.events.hub import SHUTTING_DOWN

logger = logging.getLogger(__name__)

# The wait before reopening a subscription the hub ended, doubled up to the maximum.
RETRY_SECONDS = 0.5
MAX_RETRY_SECONDS = 30.0


# Tells a subscriber that the context at this URI changed.
Notify = Callable[[str], Awaitable[None]]


@dataclass
class _Subscriber:
    notify: Notify
    actor: Actor
    # Subscribed contexts and the last version the subscriber is known to have seen.
    versions: dict[ContextKey, int] = field(default_factory=dict)
    watchers: dict[str, asyncio.Task[None]] = field(default_factory=dict)


class _SessionGoneError(Exception):
    """Sending to the session failed: its subscriptions are dropped."""


class SubscriptionHub:
    """The subscriptions of every session, and the tasks that watch their namespaces."""

    def __init__(self, hub: StreamHub, visibility: EventVisibility) -> None:
        self._hub = hub
        self._visibility = visibility
        self._subscribers: dict[str, _Subscriber] = {}

    def sessions(self) -> int:
        """How many subscribers (sessions and listen streams) have a subscription."""
        return len(self._subscribers)

    async def subscribe(
        self, session_key: str, session: ServerSession, actor: Actor, key: ContextKey, version: int
    ) -> bool:
        """Subscribe a session to a context it has seen at `version`; True for a new session.

        The latest session object and actor are kept: notifications go out with them. Raises
        `TooManySubscriptions` past the caller's (or the process's) limit of open streams, and
        `SubscriptionClosed` when the event stream cannot be read.
        """
        subscriber = self._subscribers.get(session_key)
        new_session = subscriber is None
        watching = subscriber is not None and key.namespace in subscriber.watchers
        # Opened first, so a refusal leaves nothing behind.
        opened = (
            None
            if watching
            else await self._hub.subscribe(key.namespace, principal=actor.subject).open()
        )
        subscriber = self._subscribers.get(session_key)
        if subscriber is None:
            subscriber = self._subscribers[session_key] = _Subscriber(
                session.send_resource_updated, actor
            )
        if opened is not None:
            self._start_watcher(session_key, subscriber, opened)
        subscriber.notify, subscriber.actor = session.send_resource_updated, actor
        subscriber.versions[key] = max(version, subscriber.versions.get(key, 0))
        return new_session

    async def listen(
        self, listen_key: str, actor: Actor, versions: Mapping[ContextKey, int], notify: Notify
    ) -> None:
        """Watch contexts for one listen stream, each seen at its version in `versions`.

        `notify` is awaited with the URI of each change the actor may see, until
        `drop(listen_key)`. Raises `TooManySubscriptions` past the caller's (or the
        process's) limit of open streams and `SubscriptionClosed` when the event stream
        cannot be read; then nothing is left open.
        """
        opened: list[Subscription] = []
        try:
            for namespace in sorted({key.namespace for key in versions}):
                opened.append(await self._hub.subscribe(namespace, principal=actor.subject).open())
        except BaseException:
            for subscription in opened:
                subscription.close()
            raise
        subscriber = self._subscribers[listen_key] = _Subscriber(notify, actor, dict(versions))
        for subscription in opened:
            self._start_watcher(listen_key, subscriber, subscription)

    def _start_watcher(
        self, subscriber_key: str, subscriber: _Subscriber, opened: Subscription
    ) -> None:
        watcher = asyncio.create_task(
            self._watch(subscriber_key, subscriber, opened),
            name=f"mcp-subscription:{opened.stream}",
        )
        # Also when the watcher is cancelled before it ever ran.
        watcher.add_done_callback(lambda _: opened.close())
        subscriber.watchers[opened.stream] = watcher

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
        """Forget every subscription of a session (or listen stream) and stop its watchers."""
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

    async def _watch(
        self, session_key: str, subscriber: _Subscriber, subscription: Subscription
    ) -> None:
        try:
            with self._visibility.following(subscription.stream):
                await self._follow(subscriber, subscription)
        except _SessionGoneError:
            logger.info("MCP session gone; dropping its subscriptions", exc_info=True)
            self._subscribers.pop(session_key, None)
            for other in subscriber.watchers.values():
                if other is not asyncio.current_task():
                    other.cancel()

    async def _follow(self, subscriber: _Subscriber, subscription: Subscription) -> None:
        """Deliver the subscription's entries; reopen it after the last one seen if the hub
        ended it (slow consumer, stream unavailable), until it is closed or shut down."""
        namespace = subscription.stream
        cursor: str | None = None
        delay = RETRY_SECONDS
        while True:
            try:
                async for entry in subscription:
                    cursor = entry.entry_id
                    delay = RETRY_SECONDS
                    await self._deliver(subscriber, entry)
                return  # closed by us
            except SubscriptionClosed as closed:
                if closed.reason == SHUTTING_DOWN:
                    return
                logger.warning("event stream of %s closed (%s)", namespace, closed.reason)
            finally:
                subscription.close()
            subscription = await self._reopen(subscriber, namespace, cursor, delay)
            delay = min(delay * 2, MAX_RETRY_SECONDS)

    async def _reopen(
        self, subscriber: _Subscriber, namespace: str, cursor: str | None, delay: float
    ) -> Subscription:
        while True:
            await asyncio.sleep(delay)
            try:
                return await self._hub.subscribe(
                    namespace, principal=subscriber.actor.subject, after=cursor
                ).open()
            except Exception:
                logger.warning("cannot reopen the event stream of %s", namespace, exc_info=True)
                delay = min(delay * 2, MAX_RETRY_SECONDS)

    async def _deliver(self, subscriber: _Subscriber, entry: StreamEntry) -> None:
        payload = entry.event.payload
        try:
            key = ContextKey(namespace=payload["namespace"], name=payload["name"])
            version = int(payload["version"])
        except (KeyError, TypeError, ValueError):
            logger.warning("not a context change event: %s; skipped", entry.entry_id)
            return
        known = subscriber.versions.get(key)
        if known is None or version <= known:
            return
        try:
            visible = await self._visibility.may_see(subscriber.actor, payload)
        except Exception:
            logger.warning("visibility of %s unknown; skipped", entry.entry_id, exc_info=True)
            return
        if not visible:
            return  # not readable by the subscriber: not revealed
        subscriber.versions[key] = version
        try:
            await subscriber.notify(uri_of(key))
        except Exception as error:
            raise _SessionGoneError from error
