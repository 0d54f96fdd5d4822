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
"""

import asyncio
from collections import deque
from typing import TypeVar

from sqlalchemy.pool import AsyncAdaptedQueuePool, ConnectionPoolEntry
from sqlalchemy.util import queue as sqla_queue
from sqlalchemy.util.concurrency import await_

T = TypeVar("T")


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

    def get(self, block: bool = True, timeout: float | None = None) -> T:
        """A free entry if nobody is waiting for one, else wait in line (up to `timeout`)."""
        if not self._waiters and not self._queue.empty():
            return self._queue.get_nowait()
        if not block:
            raise sqla_queue.Empty()
        return await_(self._wait(deadline_seconds=timeout))

    async def _wait(self, *, deadline_seconds: float | None) -> T:
        waiter: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            async with asyncio.timeout(deadline_seconds):
                return await asyncio.shield(waiter)
        except TimeoutError as error:
            if waiter.done() and not waiter.cancelled():
                return waiter.result()  # handed over as the deadline passed: keep it
            waiter.cancel()
            raise sqla_queue.Empty() from error
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.put_nowait(waiter.result())  # handed over, but the checkout was abandoned
            else:
                waiter.cancel()
            raise


class FairAsyncAdaptedQueuePool(AsyncAdaptedQueuePool):
    """`AsyncAdaptedQueuePool` whose waiting checkouts are served in arrival order."""

    _queue_class: type[sqla_queue.QueueCommon[ConnectionPoolEntry]] = FairAsyncAdaptedQueue[
        ConnectionPoolEntry
    ]
