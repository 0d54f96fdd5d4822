"""Wake-ups for the relay: an in-process signal fired on commit, and PostgreSQL NOTIFY.

`CommitSignal` is fired from SQLAlchemy's `after_commit` session event, which runs only after
the database committed: a rolled-back transaction never fires it. On PostgreSQL the writer
also issues `pg_notify(channel, '')` inside the transaction, which the server delivers to
every LISTENing relay (in any process) only when that transaction commits.
"""

import asyncio
import threading
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Session

Unsubscribe = Callable[[], None]

# Session.info keys: the signals to fire when the current transaction commits, and whether
# this session already has the listeners that fire or drop them.
_PENDING_KEY = "slipway.events.pending_signals"
_HOOKED_KEY = "slipway.events.signal_hooks"


class CommitSignal:
    """Tells this process's relays that an outbox transaction committed; thread-safe."""

    def __init__(self) -> None:
        self._subscribers: dict[int, Callable[[], None]] = {}
        self._next = 0
        self._lock = threading.Lock()

    def subscribe(self, callback: Callable[[], None]) -> Unsubscribe:
        """Call `callback` (cheap, non-blocking) on every fire; returns how to stop."""
        with self._lock:
            token, self._next = self._next, self._next + 1
            self._subscribers[token] = callback

        def unsubscribe() -> None:
            with self._lock:
                self._subscribers.pop(token, None)

        return unsubscribe

    def subscribe_event(self, wake: asyncio.Event) -> Unsubscribe:
        """Set `wake` on every fire, from any thread, on the running loop's thread."""
        loop = asyncio.get_running_loop()
        loop_thread = threading.get_ident()

        def set_wake() -> None:
            if threading.get_ident() == loop_thread:
                wake.set()
            else:
                loop.call_soon_threadsafe(wake.set)

        return self.subscribe(set_wake)

    def fire(self) -> None:
        """Call every subscriber."""
        with self._lock:
            callbacks = list(self._subscribers.values())
        for callback in callbacks:
            callback()


def notify_statement(channel: str) -> sa.Executable:
    """`SELECT pg_notify(channel, '')`: delivered to listeners only if the transaction commits."""
    return sa.select(sa.func.pg_notify(sa.literal(channel), sa.literal("")))


def _fire_pending(session: Session) -> None:
    for signal in session.info.pop(_PENDING_KEY, ()):
        signal.fire()


def _drop_pending(session: Session, _previous: Any = None) -> None:
    session.info.pop(_PENDING_KEY, None)


def _hook(session: Session) -> None:
    if session.info.get(_HOOKED_KEY):
        return
    session.info[_HOOKED_KEY] = True
    event.listen(session, "after_commit", _fire_pending)
    # A rolled-back transaction's signals are dropped, never fired on a later commit.
    event.listen(session, "after_rollback", _drop_pending)


def fire_on_commit(session: Session, signal: CommitSignal) -> None:
    """Fire `signal` once the session's current transaction commits (never on rollback)."""
    _hook(session)
    pending: list[CommitSignal] = session.info.setdefault(_PENDING_KEY, [])
    if signal not in pending:
        pending.append(signal)
