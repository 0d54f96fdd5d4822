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
    """
    found: list[Context] = []
    while True:
        batch = await contexts.list_namespace(
            namespace, kind=kind, label=label, after=after, limit=batch_size
        )
        for context in batch:
            if can_read(actor, context):
                found.append(context)
                if len(found) > limit:
                    return ReadableSlice(found[:limit], has_more=True)
        if len(batch) < batch_size:
            return ReadableSlice(found, has_more=False)
        after = batch[-1].key.name
