"""The registry's use-cases, written against the ports only.

PUT, PATCH and DELETE each run as a whole unit of work (read, check, write, commit) and, when
a concurrent writer took the next version first, run again on the latest one (`WriteRetry`):
without `If-Match` a write is a replace or a merge on whatever is current, so it succeeds;
with `If-Match` (or `If-None-Match: *`) the re-checked precondition answers instead.
"""

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TypeVar
from uuid import UUID, uuid4

from pydantic import JsonValue

from contexts.domain.audit import AuditEntry
from contexts.domain.cursor import decode_cursor, encode_cursor, query_fingerprint
from contexts.domain.errors import InvalidInput, NotFound
from contexts.domain.events import ChangeAction, ContextChanged
from contexts.domain.kinds import KindRegistry
from contexts.domain.listing import readable_slice
from contexts.domain.model import (
    Acl,
    Actor,
    Context,
    ContextDraft,
    ContextKey,
    JsonObject,
    LabelSelector,
    Page,
    PutResult,
    parse_labels,
    parse_namespace,
)
from contexts.domain.patch import merge_patch
from contexts.domain.policy import (
    READ_SCOPE,
    WRITE_SCOPE,
    ensure_manageable,
    ensure_readable,
    ensure_writable,
    require_scope,
)
from contexts.domain.ports import Clock, UnitOfWork, UnitOfWorkFactory
from contexts.domain.preconditions import check_if_match, check_if_none_match
from contexts.domain.retry import WriteRetry, retrying_conflicts
from contexts.domain.versioning import next_version, tombstone

MAX_PAGE_SIZE = 100

T = TypeVar("T")


def _etag_of_live(context: Context | None) -> str | None:
    # Preconditions see a tombstone as no current representation at all.
    return None if context is None or context.deleted else context.etag


def _acl_for(draft: ContextDraft, previous: Context | None) -> Acl:
    # A draft without an ACL keeps the current one, so writers can replace content.
    if draft.acl is not None:
        return draft.acl
    return Acl() if previous is None else previous.acl


def _patched_labels(labels: Mapping[str, str], patch: Mapping[str, str | None]) -> dict[str, str]:
    patched = dict(labels)
    for label, value in patch.items():
        if value is None:
            patched.pop(label, None)
        else:
            patched[label] = value
    return parse_labels(patched)


class ContextRegistry:
    """Register, update, delete and read contexts; every change is versioned and audited."""

    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        kinds: KindRegistry,
        clock: Clock,
        *,
        new_id: Callable[[], UUID] = uuid4,
        list_batch_size: int = MAX_PAGE_SIZE + 1,
        write_retry: WriteRetry | None = None,
    ) -> None:
        self._uow_factory = uow_factory
        self._kinds = kinds
        self._clock = clock
        self._new_id = new_id
        self._list_batch_size = list_batch_size
        self._write_retry = WriteRetry() if write_retry is None else write_retry

    async def put(
        self,
        actor: Actor,
        key: ContextKey,
        draft: ContextDraft,
        *,
        if_match: str | None = None,
        if_none_match: str | None = None,
        request_id: str | None = None,
    ) -> PutResult:
        """Create or replace a context; repeating the current content changes nothing.

        Without preconditions it replaces whatever version is current, run again after each
        lost version race (`WriteRetry`); `Conflict` only once every attempt lost one.
        """
        require_scope(actor, WRITE_SCOPE)
        body = self._kinds.validate(draft.kind, draft.schema_version, draft.body)

        async def attempt() -> PutResult:
            return await self._put_once(
                actor, key, draft, body, if_match, if_none_match, request_id
            )

        return await self._retrying(attempt)

    async def _put_once(
        self,
        actor: Actor,
        key: ContextKey,
        draft: ContextDraft,
        body: JsonObject,
        if_match: str | None,
        if_none_match: str | None,
        request_id: str | None,
    ) -> PutResult:
        async with self._uow_factory() as uow:
            previous = await uow.contexts.get(key, for_update=True)
            if previous is not None:
                ensure_readable(actor, key, previous)
                ensure_writable(actor, previous)
            check_if_match(if_match, _etag_of_live(previous))
            check_if_none_match(if_none_match, _etag_of_live(previous))
            acl = _acl_for(draft, previous)
            if previous is not None and acl != previous.acl:
                ensure_manageable(actor, previous)
            candidate = next_version(
                key,
                previous,
                kind=draft.kind,
                schema_version=draft.schema_version,
                body=body,
                labels=dict(draft.labels),
                acl=acl,
                actor=actor,
                now=self._clock.now(),
            )
            return await self._write_unless_same(uow, previous, candidate, request_id)

    async def patch(
        self,
        actor: Actor,
        key: ContextKey,
        body_patch: JsonValue,
        *,
        labels_patch: Mapping[str, str | None] | None = None,
        if_match: str | None = None,
        request_id: str | None = None,
    ) -> PutResult:
        """Merge-patch (RFC 7396) the body, and optionally the labels, of a live context.

        The patch applies to whatever version is current when it is written: after a lost
        version race it is merged again onto the new latest version (`WriteRetry`).
        """
        require_scope(actor, WRITE_SCOPE)

        async def attempt() -> PutResult:
            return await self._patch_once(
                actor, key, body_patch, labels_patch, if_match, request_id
            )

        return await self._retrying(attempt)

    async def _patch_once(
        self,
        actor: Actor,
        key: ContextKey,
        body_patch: JsonValue,
        labels_patch: Mapping[str, str | None] | None,
        if_match: str | None,
        request_id: str | None,
    ) -> PutResult:
        async with self._uow_factory() as uow:
            previous = self._live(actor, key, await uow.contexts.get(key, for_update=True))
            ensure_writable(actor, previous)
            check_if_match(if_match, previous.etag)
            body = self._kinds.validate(
                previous.kind, previous.schema_version, merge_patch(previous.body, body_patch)
            )
            candidate = next_version(
                key,
                previous,
                kind=previous.kind,
                schema_version=previous.schema_version,
                body=body,
                labels=_patched_labels(previous.labels, labels_patch or {}),
                acl=previous.acl,
                actor=actor,
                now=self._clock.now(),
            )
            return await self._write_unless_same(uow, previous, candidate, request_id)

    async def delete(
        self,
        actor: Actor,
        key: ContextKey,
        *,
        if_match: str | None = None,
        request_id: str | None = None,
    ) -> Context:
        """Delete a context by appending a tombstone version; its history is kept.

        After a lost version race it runs again on the latest version (`WriteRetry`): 404 if
        the winner deleted it, 412 if `If-Match` no longer holds.
        """
        require_scope(actor, WRITE_SCOPE)

        async def attempt() -> Context:
            async with self._uow_factory() as uow:
                previous = self._live(actor, key, await uow.contexts.get(key, for_update=True))
                ensure_writable(actor, previous)
                check_if_match(if_match, previous.etag)
                deleted = tombstone(previous, actor=actor, now=self._clock.now())
                await self._record(uow, previous, deleted, ChangeAction.DELETED, request_id)
                return deleted

        return await self._retrying(attempt)

    async def get(self, actor: Actor, key: ContextKey) -> Context:
        """The current version of a live context."""
        require_scope(actor, READ_SCOPE)
        async with self._uow_factory() as uow:
            return self._live(actor, key, await uow.contexts.get(key))

    async def get_version(self, actor: Actor, key: ContextKey, version: int) -> Context:
        """Version `version` of a context, tombstones and deleted contexts included."""
        require_scope(actor, READ_SCOPE)
        # Two reads, no common snapshot needed: versions are immutable, and the ACL check uses
        # the latest version as of the first read, as it would inside a READ COMMITTED
        # transaction (each of whose statements takes a new snapshot too).
        async with self._uow_factory() as uow:
            ensure_readable(actor, key, await uow.contexts.get(key))
            found = await uow.contexts.get_version(key, version)
            if found is None:
                raise NotFound(f"context {key} has no version {version}")
            return found

    async def versions(self, actor: Actor, key: ContextKey) -> Sequence[Context]:
        """Every version of a context, oldest first, tombstones included."""
        require_scope(actor, READ_SCOPE)
        # Two reads: a version appended between them is listed too, which is what a later
        # call would show; its ACL only ever governs callers who passed the check before it.
        async with self._uow_factory() as uow:
            ensure_readable(actor, key, await uow.contexts.get(key))
            return await uow.contexts.list_versions(key)

    async def audit(self, actor: Actor, key: ContextKey) -> Sequence[AuditEntry]:
        """The audit trail of a context, oldest first, for anyone who may read it."""
        require_scope(actor, READ_SCOPE)
        # Two reads, like `versions`: the trail is append-only, so the second read can only
        # show entries committed after the check, as a READ COMMITTED transaction would.
        async with self._uow_factory() as uow:
            ensure_readable(actor, key, await uow.contexts.get(key))
            return await uow.audit.list_for(key)

    async def list(
        self,
        actor: Actor,
        namespace: str,
        *,
        kind: str | None = None,
        label: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page:
        """A page of the live contexts of a namespace the actor may read, by name."""
        require_scope(actor, READ_SCOPE)
        if not 1 <= limit <= MAX_PAGE_SIZE:
            raise InvalidInput(f"limit must be between 1 and {MAX_PAGE_SIZE}")
        namespace = parse_namespace(namespace)
        selector = None if label is None else LabelSelector.parse(label)
        query = query_fingerprint(namespace, kind, selector)
        after = None if cursor is None else decode_cursor(cursor, query)
        # Batch after batch, each a keyset read of its own: a page never needed a snapshot
        # (pages of a listing are read apart anyway), only names in order after the last one.
        async with self._uow_factory() as uow:
            found = await readable_slice(
                uow.contexts,
                actor,
                namespace,
                kind=kind,
                label=selector,
                after=after,
                limit=limit,
                batch_size=self._list_batch_size,
            )
        next_cursor = encode_cursor(found.items[-1].key.name, query) if found.has_more else None
        return Page(items=tuple(found.items), next_cursor=next_cursor)

    async def _retrying(self, attempt: Callable[[], Awaitable[T]]) -> T:
        # Each attempt is its own unit of work: a lost one rolled back entirely.
        return await retrying_conflicts(attempt, self._write_retry)

    @staticmethod
    def _live(actor: Actor, key: ContextKey, context: Context | None) -> Context:
        readable = ensure_readable(actor, key, context)
        if readable.deleted:
            raise NotFound(f"context {key} not found")
        return readable

    async def _write_unless_same(
        self, uow: UnitOfWork, previous: Context | None, candidate: Context, request_id: str | None
    ) -> PutResult:
        live = previous if previous is not None and not previous.deleted else None
        # The same content again is no new version: the caller gets the current one, ETag and all.
        if live is not None and live.content_hash == candidate.content_hash:
            return PutResult(context=live, created=False, changed=False)
        action = ChangeAction.CREATED if live is None else ChangeAction.UPDATED
        await self._record(uow, previous, candidate, action, request_id)
        return PutResult(context=candidate, created=live is None, changed=True)

    async def _record(
        self,
        uow: UnitOfWork,
        previous: Context | None,
        new: Context,
        action: ChangeAction,
        request_id: str | None,
    ) -> None:
        # One unit of work: the version, its audit entry and its event stand or fall together.
        await uow.contexts.append(new)
        await uow.audit.append(
            AuditEntry.of_change(self._new_id(), previous, new, action, request_id)
        )
        await uow.outbox.add(ContextChanged.of(new, action, self._new_id()))
        await uow.commit()
