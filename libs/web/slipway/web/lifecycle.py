"""Resources started and stopped with the app, readiness checks, and the draining flag."""

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager, suppress
from typing import Protocol, runtime_checkable

logger = logging.getLogger("slipway.web")


@runtime_checkable
class Resource(Protocol):
    """Something opened at start-up and closed at shutdown: a pool, a client, a task."""

    name: str

    async def start(self) -> None:
        """Open the resource; raise to abort start-up."""

    async def stop(self) -> None:
        """Close the resource."""


@runtime_checkable
class ReadinessCheck(Protocol):
    """A dependency probe for /ready; returns when healthy and raises when not."""

    name: str

    async def __call__(self) -> None:
        """Probe the dependency."""


class BackgroundTask:
    """A Resource that runs `run()` as a task from start-up until shutdown cancels it."""

    def __init__(self, name: str, run: Callable[[], Awaitable[None]]) -> None:
        self.name = name
        self._run = run
        self._task: asyncio.Task[None] | None = None

    async def _main(self) -> None:
        await self._run()

    async def start(self) -> None:
        """Start the task."""
        self._task = asyncio.create_task(self._main(), name=self.name)

    async def stop(self) -> None:
        """Cancel the task and wait for it to finish."""
        if self._task is None:
            return
        self._task.cancel()
        with suppress(asyncio.CancelledError):
            await self._task
        self._task = None


class Lifecycle:
    """Owns the app's resources and whether it is draining (readiness answers 503)."""

    def __init__(self, resources: Sequence[Resource] = ()) -> None:
        self.resources: list[Resource] = list(resources)
        self.started: list[Resource] = []
        self.draining = False

    def add(self, resource: Resource) -> None:
        """Register a resource; it starts after those registered before it."""
        self.resources.append(resource)

    def begin_draining(self) -> None:
        """Make /ready answer 503 from now on, so load balancers stop sending traffic."""
        self.draining = True

    async def start(self) -> None:
        """Start resources in order; if one fails, stop those already started and re-raise."""
        self.draining = False
        for resource in self.resources:
            try:
                await resource.start()
            except BaseException:
                logger.exception("resource %s failed to start", resource.name)
                await self.stop()
                raise
            self.started.append(resource)
            logger.info("resource %s started", resource.name)

    async def stop(self) -> None:
        """Stop started resources in reverse order; one failing does not skip the rest."""
        self.draining = True
        while self.started:
            resource = self.started.pop()
            try:
                await resource.stop()
            except Exception:
                logger.exception("resource %s failed to stop", resource.name)
            else:
                logger.info("resource %s stopped", resource.name)

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Resources started for the body of the `async with`, then stopped."""
        await self.start()
        try:
            yield
        finally:
            await self.stop()
