"""Listing a namespace page by page without ever revealing a context the caller may not read."""

from collections.abc import Sequence
from dataclasses import dataclass

from contexts.domain.model import Actor, Context, LabelSelector
from contexts.domain.policy import can_read
from contexts.domain.ports import ContextRepository


@dataclass(frozen=True, slots=True)
class ReadableSlice:
    """Up to `limit` readable contexts, and whether more readable ones follow them."""

    items: Sequence[Context]
    has_more: bool


async def readable_slice(
    contexts: ContextRepository,
    actor: Actor,
    namespace: str,
    *,
    kind: str | None,
    label: LabelSelector | None,
    after: str | None,
    limit: int,
    batch_size: int,
) -> ReadableSlice:
    """The first `limit` contexts after `after` that `actor` may read, fetching batch by batch.

    Unreadable contexts are skipped by fetching further batches rather than by shortening the
    page, and one readable context beyond the page is looked for, so that a cursor is only
    issued when a next page has something in it and never names an unreadable context.

    The first batch is `limit + 1` rows (or `batch_size` if smaller): when the caller may read
    them all, which is the common case, that is the whole page and its lookahead, and no row
    is fetched and decoded for nothing (a page of 50 used to read 101). Only when some were
    unreadable do further batches of `batch_size` follow.
    """
    found: list[Context] = []
    wanted = min(limit + 1, batch_size)
    while True:
        batch = await contexts.list_namespace(
            namespace, kind=kind, label=label, after=after, limit=wanted
        )
        for context in batch:
            if can_read(actor, context):
                found.append(context)
                if len(found) > limit:
                    return ReadableSlice(found[:limit], has_more=True)
        if len(batch) < wanted:
            return ReadableSlice(found, has_more=False)
        after = batch[-1].key.name
        wanted = batch_size
