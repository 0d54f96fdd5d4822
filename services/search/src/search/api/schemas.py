"""The search API's response bodies (the wire format, apart from the model)."""

from datetime import datetime
from typing import Self

from pydantic import BaseModel, Field

from search.domain.model import SearchHit


class Hit(BaseModel):
    """One matching context the caller may read."""

    namespace: str
    name: str
    version: int = Field(description="The indexed (latest) version")
    kind: str
    labels: dict[str, str]
    score: float = Field(
        description="Relevance, higher is better; comparable within one search only"
    )
    snippet: str = Field(
        description="HTML-safe excerpt of the text, matches in <mark>...</mark>",
        examples=["the <mark>rollback</mark> runbook &amp; checklist"],
    )
    updated_at: datetime
    href: str = Field(description="The context in contexts' API")

    @classmethod
    def of(cls, hit: SearchHit, contexts_url: str) -> Self:
        """The response item for `hit`; `contexts_url` prefixes its href ("" for a path)."""
        return cls(
            namespace=hit.ref.namespace,
            name=hit.ref.name,
            version=hit.version,
            kind=hit.kind,
            labels=dict(hit.labels),
            score=hit.score,
            snippet=hit.snippet,
            updated_at=hit.updated_at,
            href=f"{contexts_url}/v1/contexts/{hit.ref.namespace}/{hit.ref.name}",
        )


class SearchResults(BaseModel):
    """A page of hits, best first."""

    items: list[Hit]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null: last")
