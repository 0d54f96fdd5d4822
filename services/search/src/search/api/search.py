"""`GET /v1/search`: full-text search over the contexts the caller may read.

Every bad input is an RFC 9457 problem: parameters out of their declared bounds are
slipway.web's 422 validation problem; a malformed label filter or a query the parser refuses
is a 422 `urn:search:problem:invalid-query`; a cursor that is not this search's is a 400
`urn:search:problem:invalid-cursor`.
"""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from search.api.reader import reader_requiring_read
from search.api.schemas import Hit, SearchResults
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
    parse_label_filters,
)
from slipway.web import ProblemError

PROBLEM_TYPE_PREFIX = "urn:search:problem:"
PROBLEM: dict[str, Any] = {"content": {"application/problem+json": {}}}


def problem_of(error: SearchError) -> ProblemError:
    """The problem a refused search is answered with."""
    status = 400 if isinstance(error, InvalidCursorError) else 422
    return ProblemError(
        status,
        error.detail,
        title="Invalid cursor" if status == 400 else "Invalid query",
        type=PROBLEM_TYPE_PREFIX + error.code,
        extensions={"code": error.code},
    )


def search_router(index: SearchIndex, *, groups_claim: str, contexts_url: str = "") -> APIRouter:
    """The /v1/search route on `index`; hits link to `contexts_url` (no trailing slash)."""
    router = APIRouter(prefix="/v1", tags=["search"])
    base = contexts_url.rstrip("/")
    current_reader = reader_requiring_read(groups_claim)

    @router.get(
        "/search",
        summary="Search the contexts you may read",
        responses={
            400: {"description": "The cursor is not one of this search", **PROBLEM},
            401: {"description": "No valid bearer token", **PROBLEM},
            403: {"description": "The token lacks contexts:read", **PROBLEM},
        },
    )
    async def search(
        reader: Annotated[Reader, Depends(current_reader)],
        q: Annotated[
            str,
            Query(
                min_length=1,
                max_length=MAX_QUERY_LENGTH,
                description='Words (all required), "phrases", `or`, -excluded',
                examples=['rollback "release checklist" -draft'],
            ),
        ],
        namespace: Annotated[
            str | None, Query(pattern=NAME_PATTERN, description="Only this namespace")
        ] = None,
        kind: Annotated[str | None, Query(pattern=KIND_PATTERN, description="Only this kind")] = (
            None
        ),
        label: Annotated[
            list[str] | None,
            Query(
                max_length=MAX_LABEL_FILTERS,
                description="key:value; repeat for several (all must match)",
            ),
        ] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = DEFAULT_PAGE_SIZE,
        cursor: Annotated[
            str | None, Query(max_length=1024, description="next_cursor of the previous page")
        ] = None,
    ) -> SearchResults:
        try:
            labels = parse_label_filters(label or [])
            page = await index.search(
                SearchQuery(
                    text=q,
                    namespace=namespace,
                    kind=kind,
                    labels=labels,
                    limit=limit,
                    cursor=cursor,
                ),
                reader,
            )
        except SearchError as error:
            raise problem_of(error) from error
        return SearchResults(
            items=[Hit.of(hit, base) for hit in page.hits], next_cursor=page.next_cursor
        )

    return router
