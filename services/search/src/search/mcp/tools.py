"""The MCP tool `search_contexts`: the REST search's rules, as a tool.

Its input schema is `SearchContexts`' JSON schema. Arguments the model refuses, and searches
the domain refuses (a bad query, a foreign cursor), come back as a tool result with
`isError` set, carrying the RFC 9457 problem the REST API would answer with, as text and as
`structuredContent`: the model sees it and can correct itself. Hits are the caller's
readable contexts only, under contexts' ACL rules (the index enforces them in SQL).
"""

import json
from typing import Annotated, Any

from mcp import types
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from search.api.schemas import Hit
from search.domain.errors import InvalidCursorError, SearchError
from search.domain.model import Reader, SearchQuery
from search.domain.ports import SearchIndex
from search.domain.query import MAX_QUERY_LENGTH
from search.domain.search import (
    DEFAULT_PAGE_SIZE,
    KIND_PATTERN,
    MAX_LABEL_FILTERS,
    MAX_PAGE_SIZE,
    NAME_PATTERN,
)

TOOL_NAME = "search_contexts"
PROBLEM_TYPE_PREFIX = "urn:search:problem:"


class SearchContexts(BaseModel):
    """Full-text search over the contexts you may read, best first, a page at a time.
    Words are all required; "quoted phrases" must appear as written; `or` between terms
    gives alternatives; -word excludes. Snippets mark matches with <mark>...</mark>."""

    model_config = ConfigDict(extra="forbid")

    query: Annotated[
        str, Field(min_length=1, max_length=MAX_QUERY_LENGTH, description="What to look for")
    ]
    namespace: Annotated[
        str | None, Field(pattern=NAME_PATTERN, description="Only this namespace")
    ] = None
    kind: Annotated[str | None, Field(pattern=KIND_PATTERN, description="Only this kind")] = None
    labels: Annotated[
        dict[str, str] | None,
        Field(max_length=MAX_LABEL_FILTERS, description="Only contexts with all these labels"),
    ] = None
    limit: Annotated[int, Field(ge=1, le=MAX_PAGE_SIZE)] = DEFAULT_PAGE_SIZE
    cursor: Annotated[
        str | None, Field(max_length=1024, description="next_cursor of the previous page")
    ] = None


def tool_list() -> list[types.Tool]:
    """The one tool, with its input schema."""
    return [
        types.Tool(
            name=TOOL_NAME,
            description=" ".join((SearchContexts.__doc__ or "").split()),
            input_schema=SearchContexts.model_json_schema(),
            annotations=types.ToolAnnotations(read_only_hint=True, open_world_hint=False),
        )
    ]


def _result(payload: dict[str, Any], *, is_error: bool = False) -> types.CallToolResult:
    return types.CallToolResult(
        content=[types.TextContent(text=json.dumps(payload, ensure_ascii=False))],
        structured_content=payload,
        is_error=is_error,
    )


def _problem(status: int, title: str, code: str, detail: str, **extra: Any) -> dict[str, Any]:
    return {
        "type": PROBLEM_TYPE_PREFIX + code,
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
        **extra,
    }


def _invalid_arguments(error: ValidationError) -> dict[str, Any]:
    errors = [
        {"loc": list(item["loc"]), "message": item["msg"], "type": item["type"]}
        for item in error.errors(include_url=False, include_input=False, include_context=False)
    ]
    return _problem(
        422, "Invalid input", "invalid-arguments", "invalid tool arguments", errors=errors
    )


async def search_contexts(
    index: SearchIndex, reader: Reader, contexts_url: str, arguments: dict[str, Any] | None
) -> types.CallToolResult:
    """Run the tool as `reader`; refused arguments and searches become `isError` results."""
    try:
        args = SearchContexts.model_validate(arguments or {})
    except ValidationError as error:
        return _result(_invalid_arguments(error), is_error=True)
    query = SearchQuery(
        text=args.query,
        namespace=args.namespace,
        kind=args.kind,
        labels=args.labels or {},
        limit=args.limit,
        cursor=args.cursor,
    )
    try:
        page = await index.search(query, reader)
    except SearchError as error:
        cursor = isinstance(error, InvalidCursorError)
        status, title = (400, "Invalid cursor") if cursor else (422, "Invalid query")
        return _result(_problem(status, title, error.code, error.detail), is_error=True)
    items = [Hit.of(hit, contexts_url).model_dump(mode="json") for hit in page.hits]
    return _result({"items": items, "next_cursor": page.next_cursor})
