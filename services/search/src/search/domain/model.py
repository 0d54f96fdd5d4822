"""What search keeps of a context, who asks, and what a search answers.

A context is indexed as the `IndexedContext` of its latest version; a deleted one is a
`Removal`. Both carry the version they describe: the index never lets an older version
replace a newer one, so events may arrive late, twice, or out of order.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, slots=True)
class ContextRef:
    """A context's identity in contexts: its namespace and name."""

    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True, slots=True)
class IndexedContext:
    """The searchable form of one version of a context, with who may read it.

    `owner`, `readers` and `writers` are the context's ACL as contexts keeps it (entries such
    as `subject:alice`, `group:ops`); `text` is the searchable text of its body.
    """

    ref: ContextRef
    version: int
    kind: str
    labels: Mapping[str, str]
    owner: str
    readers: frozenset[str]
    writers: frozenset[str]
    text: str
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class Removal:
    """A context was deleted (tombstoned) at `version`: it leaves the index."""

    ref: ContextRef
    version: int


Change = IndexedContext | Removal


@dataclass(frozen=True, slots=True)
class Reader:
    """Who searches: a subject, its groups and its scopes (from the caller's token)."""

    subject: str
    groups: frozenset[str] = frozenset()
    scopes: frozenset[str] = frozenset()

    @property
    def acl_entries(self) -> frozenset[str]:
        """The ACL entries naming this reader: `subject:<subject>` and each `group:<group>`."""
        return frozenset({f"subject:{self.subject}", *(f"group:{group}" for group in self.groups)})


@dataclass(frozen=True, slots=True)
class SearchQuery:
    """A full-text query with its filters and the page asked for."""

    text: str
    namespace: str | None = None
    kind: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    limit: int = 20
    cursor: str | None = None


@dataclass(frozen=True, slots=True)
class SearchHit:
    """One matching context: its rank and a snippet with the matches marked."""

    ref: ContextRef
    version: int
    kind: str
    labels: Mapping[str, str]
    score: float
    snippet: str
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class SearchPage:
    """A page of hits, best first, and the cursor of the next page (None on the last)."""

    hits: tuple[SearchHit, ...]
    next_cursor: str | None
