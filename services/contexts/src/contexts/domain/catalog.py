"""The catalog across namespaces, for an indexing service holding `contexts:index`.

An indexer (search) fills its index from scratch, or again after it fell behind the change
stream's retention, by reading every live context of every namespace: pages in (namespace,
name) order, resumed with an opaque cursor naming the last context of the previous page.
Only the index scope may read it (`contexts:index`): it lists every context whatever its
ACL, so it carries the same widening of reads as the scope itself, and writes nothing.
"""

import base64
import binascii
from collections.abc import Sequence
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from contexts.domain.errors import Forbidden, InvalidCursor, InvalidInput
from contexts.domain.model import Actor, Context, ContextKey, Name, Page
from contexts.domain.policy import INDEX_SCOPE, is_indexer

CATALOG_CURSOR_VERSION = 1
MAX_CATALOG_PAGE = 100
DEFAULT_CATALOG_PAGE = 50
MAX_CATALOG_CURSOR_LENGTH = 256


class CatalogReader(Protocol):
    """The live (not deleted) contexts of every namespace, in (namespace, name) order."""

    async def page_after(self, after: ContextKey | None, limit: int) -> Sequence[Context]:
        """Up to `limit` live contexts after `after` (None: from the first), latest versions."""
        ...


class _Position(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    v: int = Field(ge=CATALOG_CURSOR_VERSION, le=CATALOG_CURSOR_VERSION)
    namespace: Name
    name: Name


def encode_catalog_cursor(after: ContextKey) -> str:
    """The cursor of the page that follows `after`."""
    raw = _Position(v=CATALOG_CURSOR_VERSION, namespace=after.namespace, name=after.name)
    return base64.urlsafe_b64encode(raw.model_dump_json().encode()).rstrip(b"=").decode("ascii")


def decode_catalog_cursor(cursor: str) -> ContextKey:
    """The context a cursor resumes after; `InvalidCursor` unless this catalog issued it."""
    if len(cursor) > MAX_CATALOG_CURSOR_LENGTH:
        raise InvalidCursor("cursor is not one this service issued")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        position = _Position.model_validate_json(raw)
    except (binascii.Error, ValueError, ValidationError):
        raise InvalidCursor("cursor is not one this service issued") from None
    return ContextKey.model_construct(namespace=position.namespace, name=position.name)


class ContextCatalog:
    """`page(actor, cursor=..., limit=...)`: one page of every live context, for indexers."""

    def __init__(self, reader: CatalogReader) -> None:
        self._reader = reader

    async def page(
        self, actor: Actor, *, cursor: str | None = None, limit: int = DEFAULT_CATALOG_PAGE
    ) -> Page:
        """Up to `limit` live contexts after the cursor's, with the next page's cursor."""
        if not is_indexer(actor):
            raise Forbidden(f"missing scope {INDEX_SCOPE}")
        if not 1 <= limit <= MAX_CATALOG_PAGE:
            raise InvalidInput(f"limit must be between 1 and {MAX_CATALOG_PAGE}")
        after = None if cursor is None else decode_catalog_cursor(cursor)
        # One more than asked: a cursor only when a next page has something in it.
        found = list(await self._reader.page_after(after, limit + 1))
        items = tuple(found[:limit])
        next_cursor = encode_catalog_cursor(items[-1].key) if len(found) > limit else None
        return Page(items=items, next_cursor=next_cursor)
