"""Ports: what the use-cases need from storage, messaging and time, as adapters implement it."""

from collections.abc import Callable, Sequence
from datetime import datetime
from types import TracebackType
from typing import Protocol, Self

from contexts.domain.audit import AuditEntry
from contexts.domain.events import ContextAccess, ContextChanged
from contexts.domain.model import Context, ContextKey, LabelSelector


class Clock(Protocol):
    """The current time."""

    def now(self) -> datetime:
        """The current time, timezone-aware."""
        ...


class Backoff(Protocol):
    """How long a write that lost a version race waits before it runs again."""

    async def pause(self, retry: int) -> None:
        """Wait before retry number `retry` (1 for the second run)."""
        ...


class ContextRepository(Protocol):
    """Every version of every context; versions are only ever appended."""

    async def get(self, key: ContextKey, *, for_update: bool = False) -> Context | None:
        """The latest version (a tombstone included), or None if the key was never used.

        `for_update`: a write is about to follow in this unit of work; where the database has
        row locks, other writers of this key wait until it ends, and then read what it wrote
        (so they do not all lose the race for the next version). Never needed for correctness:
        `append` still decides between writers.
        """
        ...

    async def get_version(self, key: ContextKey, version: int) -> Context | None:
        """Version `version` of the context, or None."""
        ...

    async def list_versions(self, key: ContextKey) -> Sequence[Context]:
        """Every version of the context, oldest first."""
        ...

    async def list_namespace(
        self,
        namespace: str,
        *,
        kind: str | None = None,
        label: LabelSelector | None = None,
        after: str | None = None,
        limit: int,
    ) -> Sequence[Context]:
        """Up to `limit` latest versions, not deleted, matching the filters, named after `after`.

        Ordered by name, so the last name of one call is the `after` of the next (keyset).
        """
        ...

    async def append(self, context: Context) -> None:
        """Add a version; raises `Conflict` unless it is exactly the next version number."""
        ...


class AuditLog(Protocol):
    """The audit trail of changes."""

    async def append(self, entry: AuditEntry) -> None:
        """Record a change."""
        ...

    async def list_for(self, key: ContextKey) -> Sequence[AuditEntry]:
        """The entries of one context, oldest first."""
        ...


class Outbox(Protocol):
    """Events to publish once the change that raised them is committed."""

    async def add(self, event: ContextChanged) -> None:
        """Queue an event in the current unit of work."""
        ...


class AccessLookup(Protocol):
    """Who may read a context, read without an actor (for filtering events): no body."""

    async def access_of(self, key: ContextKey) -> ContextAccess | None:
        """The latest version's number, owner and ACL, or None if the key was never used."""
        ...


class UnitOfWork(Protocol):
    """One transaction over the repositories; leaving it without `commit` rolls back.

    Reads before the first write or locking read may run outside any transaction (each as a
    statement of its own); a use-case that reads twice must not rely on one snapshot.
    """

    @property
    def contexts(self) -> ContextRepository:
        """The context versions."""
        ...

    @property
    def audit(self) -> AuditLog:
        """The audit trail."""
        ...

    @property
    def outbox(self) -> Outbox:
        """The outbox."""
        ...

    async def __aenter__(self) -> Self:
        """Begin the transaction."""
        ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """End the transaction, rolling back whatever was not committed."""
        ...

    async def commit(self) -> None:
        """Make every change of this unit of work durable, all at once."""
        ...

    async def rollback(self) -> None:
        """Discard every uncommitted change."""
        ...


UnitOfWorkFactory = Callable[[], UnitOfWork]
