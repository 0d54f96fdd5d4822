"""A connection pool whose waiting checkouts are served first come, first served.

SQLAlchemy's `AsyncAdaptedQueuePool` waits on an `asyncio.Queue`, and its `get` first takes a
free connection without waiting. `asyncio.Queue.put` only *wakes* the oldest waiter: a
checkout that arrives before the woken task runs takes the connection, and the waiter finds
the queue empty and queues again at the back. Under more concurrent requests than
connections (32 writers on 15 connections in `tooling/bench:contexts`) some checkouts lose
that race again and again: waits were bimodal (p50 0.01 ms, p99 2.2 s) and write p99 was 3.3x
the limit app's, whose asyncpg pool hands connections over in order.

`FairAsyncAdaptedQueue` hands a returned connection straight to the oldest waiter, and takes
from the queue only when nobody waits. SQLAlchemy's pool logic (overflow, timeout, reset on
return, invalidation) is unchanged: only the queue class differs, through the pool's
`_queue_class` hook. A waiter cancelled after it was handed a connection puts it back, so a
cancelled request never leaks one.

A wait is one future and, with a timeout, one `loop.call_later` handle that fails it with
`Empty`: no `asyncio.timeout` context and `asyncio.shield` task per wait. `get_in_line` and
`connect_with` let async code (`slipway.db.reads.fetch_pooled`) take its place in line and
check the entry out without a greenlet when that needs no IO.
"""

import asyncio
from collections import deque
from typing import Any, TypeVar

from sqlalchemy import exc
from sqlalchemy.pool import AsyncAdaptedQueuePool, ConnectionPoolEntry, PoolProxiedConnection
from sqlalchemy.util import queue as sqla_queue
from sqlalchemy.util.concurrency import await_

T = TypeVar("T")


def _expire(waiter: "asyncio.Future[Any]") -> None:
    """The deadline of `waiter` passed: it fails with `Empty`, unless it was handed an entry."""
    if not waiter.done():
        waiter.set_exception(sqla_queue.Empty())


def _handed_over(waiter: "asyncio.Future[T]") -> bool:
    return waiter.done() and not waiter.cancelled() and waiter.exception() is None


class FairAsyncAdaptedQueue(sqla_queue.AsyncAdaptedQueue[T]):
    """`AsyncAdaptedQueue` with a strict FIFO hand-off to waiting getters."""

    def __init__(self, maxsize: int = 0, use_lifo: bool = False) -> None:
        super().__init__(maxsize, use_lifo)
        self._waiters: deque[asyncio.Future[T]] = deque()

    def put_nowait(self, item: T) -> None:
        """Give `item` to the oldest waiter still waiting, else keep it in the queue."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(item)
                return
        super().put_nowait(item)

    def put(self, item: T, block: bool = True, timeout: float | None = None) -> None:
        """As `put_nowait`: the pool never blocks on a return (its queue holds every entry)."""
        self.put_nowait(item)

    def keeps_a_return(self) -> bool:
        """Whether `put_nowait` now hands the item to a waiter or keeps it (no `Full`)."""
        for waiter in self._waiters:
            if not waiter.done():
                return True
        return not self._queue.full()

    def take_free(self) -> T | None:
        """A free entry if nobody is waiting for one, else None (without waiting)."""
        if not self._waiters and not self._queue.empty():
            return self._queue.get_nowait()
        return None

    def get(self, block: bool = True, timeout: float | None = None) -> T:
        """A free entry if nobody is waiting for one, else wait in line (up to `timeout`)."""
        free = self.take_free()
        if free is not None:
            return free
        if not block:
            raise sqla_queue.Empty()
        return await_(self.wait(deadline_seconds=timeout))

    async def wait(self, *, deadline_seconds: float | None) -> T:
        """Wait in line for an entry, up to `deadline_seconds` (then `Empty`).

        A waiter cancelled after it was handed an entry gives it to the next in line.
        """
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[T] = loop.create_future()
        self._waiters.append(waiter)
        # One timer handle, not asyncio.timeout + shield: no context, no shield task per wait.
        timer = None
        if deadline_seconds is not None:
            timer = loop.call_later(deadline_seconds, _expire, waiter)
        try:
            return await waiter
        except asyncio.CancelledError:
            if _handed_over(waiter):
                self.put_nowait(waiter.result())  # handed over, but the checkout was abandoned
            else:
                waiter.cancel()
            raise
        finally:
            if timer is not None:
                timer.cancel()


class FairAsyncAdaptedQueuePool(AsyncAdaptedQueuePool):
    """`AsyncAdaptedQueuePool` whose waiting checkouts are served in arrival order."""

    _queue_class: type[sqla_queue.QueueCommon[ConnectionPoolEntry]] = FairAsyncAdaptedQueue[
        ConnectionPoolEntry
    ]
    _pool: FairAsyncAdaptedQueue[ConnectionPoolEntry]  # made by _queue_class
    _handed: ConnectionPoolEntry | None = None

    def _do_get(self) -> ConnectionPoolEntry:
        """The entry `connect_with` checks out, else QueuePool's (free, new or waited for)."""
        entry, self._handed = self._handed, None
        return super()._do_get() if entry is None else entry

    def keeps_a_return(self) -> bool:
        """Whether a connection checked in now stays open (no overflow connection is closed)."""
        return self._pool.keeps_a_return()

    async def get_in_line(self) -> ConnectionPoolEntry | None:
        """The entry `connect()` would check out, got from async code for `connect_with`.

        A free entry if nobody waits, else (at the overflow limit) one handed over in
        arrival order, within the pool timeout (else QueuePool's `TimeoutError`). None when
        `connect()` itself must run: it opens an overflow connection (IO, in a greenlet).
        """
        queue = self._pool
        free = queue.take_free()
        if free is not None:
            return free
        if self._max_overflow == -1 or self._overflow < self._max_overflow:
            return None
        try:
            return await queue.wait(deadline_seconds=self._timeout)
        except sqla_queue.Empty:
            pass
        if self._overflow < self._max_overflow:
            return None  # an overflow connection failed to open meanwhile: QueuePool opens one
        raise exc.TimeoutError(  # QueuePool._do_get's error, word for word
            f"QueuePool limit of size {self.size()} overflow {self.overflow()} reached, "
            f"connection timed out, timeout {self._timeout:0.2f}",
            code="3o7r",
        )

    def connect_with(self, entry: ConnectionPoolEntry | None) -> PoolProxiedConnection:
        """`connect()`, checking out `entry` (from `get_in_line`) if not None."""
        self._handed = entry
        try:
            return self.connect()
        finally:
            self._handed = None
