"""In-memory implementations of the domain's ports, for tests (real adapters live elsewhere)."""

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Self

from contexts.domain.audit import AuditEntry
from contexts.domain.errors import Conflict
from contexts.domain.events import ContextChanged
from contexts.domain.model import Context, ContextKey, LabelSelector
from contexts.domain.ports import UnitOfWork


class FixedClock:
    """A clock that moves only when told to."""

    def __init__(self, start: datetime = datetime(2025, 1, 1, tzinfo=UTC)) -> None:
        self.current = start

    def now(self) -> datetime:
        """The time set last."""
        return self.current

    def advance(self, seconds: float = 1) -> None:
        """Move the clock forward."""
        self.current += timedelta(seconds=seconds)


@dataclass
class InMemoryStore:
    """The committed state every unit of work starts from, plus hooks to disturb it."""

    versions: dict[ContextKey, list[Context]] = field(default_factory=dict)
    audit: list[AuditEntry] = field(default_factory=list)
    events: list[ContextChanged] = field(default_factory=list)
    commits: int = 0
    list_calls: int = 0
    # The `limit` of every `list_namespace` call, in order.
    list_limits: list[int] = field(default_factory=list)
    fail_outbox: bool = False
    # Runs once, right after the next `get`: lets a test commit a competing change mid-use-case.
    after_next_get: Callable[[], Awaitable[None]] | None = None

    def unit_of_work(self) -> UnitOfWork:
        """A new unit of work over this store."""
        return InMemoryUnitOfWork(self)

    def all_versions(self) -> list[Context]:
        """Every committed version of every context."""
        return [version for versions in self.versions.values() for version in versions]


class InMemoryContextRepository:
    """Versions staged in a unit of work, read through to the store's committed ones."""

    def __init__(self, store: InMemoryStore) -> None:
        self._store = store
        self.staged: list[Context] = []

    def _versions(self, key: ContextKey) -> list[Context]:
        committed = self._store.versions.get(key, [])
        return [*committed, *(context for context in self.staged if context.key == key)]

    async def get(self, key: ContextKey, *, for_update: bool = False) -> Context | None:
        """The latest version, or None (no locks here: `append` decides between writers)."""
        versions = self._versions(key)
        hook, self._store.after_next_get = self._store.after_next_get, None
        if hook is not None:
            await hook()
        return versions[-1] if versions else None

    async def get_version(self, key: ContextKey, version: int) -> Context | None:
        """One version, or None."""
        versions = self._versions(key)
        return versions[version - 1] if 1 <= version <= len(versions) else None

    async def list_versions(self, key: ContextKey) -> Sequence[Context]:
        """Every version, oldest first."""
        return self._versions(key)

    async def list_namespace(
        self,
        namespace: str,
        *,
        kind: str | None = None,
        label: LabelSelector | None = None,
        after: str | None = None,
        limit: int,
    ) -> Sequence[Context]:
        """Latest live versions matching the filters, by name, after `after`."""
        self._store.list_calls += 1
        self._store.list_limits.append(limit)
        keys = {*self._store.versions, *(context.key for context in self.staged)}
        latest = [self._versions(key)[-1] for key in keys if key.namespace == namespace]
        matching = [
            context
            for context in latest
            if not context.deleted
            and (kind is None or context.kind == kind)
            and (label is None or label.matches(context.labels))
            and (after is None or context.key.name > after)
        ]
        return sorted(matching, key=lambda context: context.key.name)[:limit]

    async def append(self, context: Context) -> None:
        """Stage a version; `Conflict` unless it is the next one."""
        if context.version != len(self._versions(context.key)) + 1:
            raise Conflict(f"version {context.version} of {context.key} is taken")
        self.staged.append(context)


class InMemoryAuditLog:
    """Audit entries staged in a unit of work."""

    def __init__(self, store: InMemoryStore) -> None:
        self._store = store
        self.staged: list[AuditEntry] = []

    async def append(self, entry: AuditEntry) -> None:
        """Stage an entry."""
        self.staged.append(entry)

    async def list_for(self, key: ContextKey) -> Sequence[AuditEntry]:
        """Committed and staged entries of one context."""
        return [entry for entry in [*self._store.audit, *self.staged] if entry.key == key]


class InMemoryOutbox:
    """Events staged in a unit of work; fails on demand."""

    def __init__(self, store: InMemoryStore) -> None:
        self._store = store
        self.staged: list[ContextChanged] = []

    async def add(self, event: ContextChanged) -> None:
        """Stage an event, or fail if the store says so."""
        if self._store.fail_outbox:
            raise RuntimeError("outbox unavailable")
        self.staged.append(event)


class InMemoryUnitOfWork:
    """Stages every change and applies them to the store at commit, all or nothing."""

    def __init__(self, store: InMemoryStore) -> None:
        self._store = store
        self.contexts = InMemoryContextRepository(store)
        self.audit = InMemoryAuditLog(store)
        self.outbox = InMemoryOutbox(store)

    async def __aenter__(self) -> Self:
        """Begin."""
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Roll back whatever was not committed."""
        await self.rollback()

    async def commit(self) -> None:
        """Apply staged changes; `Conflict` if another unit of work took a version first."""
        expected = {key: len(versions) + 1 for key, versions in self._store.versions.items()}
        for context in self.contexts.staged:
            if context.version != expected.get(context.key, 1):
                raise Conflict(f"version {context.version} of {context.key} is taken")
            expected[context.key] = context.version + 1
        for context in self.contexts.staged:
            self._store.versions.setdefault(context.key, []).append(context)
        self._store.audit.extend(self.audit.staged)
        self._store.events.extend(self.outbox.staged)
        self._store.commits += 1
        await self.rollback()

    async def rollback(self) -> None:
        """Forget staged changes."""
        self.contexts.staged.clear()
        self.audit.staged.clear()
        self.outbox.staged.clear()
