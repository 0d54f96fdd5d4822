"""`GET /v1/contexts`: every live context of every namespace, for holders of `contexts:index`.

An indexing service's backfill (search): pages in (namespace, name) order, 50 by default and
at most 100, each context as `GET /v1/contexts/{namespace}/{name}` renders it (body, labels,
owner, ACL), deleted ones left out; `next_cursor` (and `Link: rel="next"`) resumes after the
page's last context. A token needs `contexts:index` (`contexts:read` does not list across
namespaces: the listing ignores every ACL).
"""

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import Field

from contexts.api.actor import actor_requiring
from contexts.api.errors import DomainErrorRoute
from contexts.api.representation import json_response, render_context
from contexts.api.schemas import ContextPage
from contexts.api.strict import DecimalInt
from contexts.domain.catalog import (
    DEFAULT_CATALOG_PAGE,
    MAX_CATALOG_CURSOR_LENGTH,
    MAX_CATALOG_PAGE,
    ContextCatalog,
)
from contexts.domain.model import Actor, Page
from contexts.domain.policy import INDEX_SCOPE

CATALOG_CURSOR_PATTERN = r"^[A-Za-z0-9_-]+$"


def _problem(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/problem+json": {}}}


def render_catalog_page(page: Page) -> bytes:
    """The JSON of `ContextPage.of(page)` (not cached: a backfill reads each page once)."""
    items = b",".join([render_context(context) for context in page.items])
    return b'{"items":[' + items + b'],"next_cursor":' + orjson.dumps(page.next_cursor) + b"}"


def index_router(catalog: ContextCatalog, *, groups_claim: str) -> APIRouter:
    """The router serving the cross-namespace listing of `catalog`."""
    router = APIRouter(prefix="/v1", tags=["index"], route_class=DomainErrorRoute)
    Indexer = Annotated[Actor, Depends(actor_requiring(INDEX_SCOPE, groups_claim))]  # noqa: N806

    @router.get(
        "/contexts",
        response_model=ContextPage,
        summary="Every live context of every namespace (for indexers, `contexts:index`)",
        responses={
            200: {
                "description": "a page, by (namespace, name)",
                "headers": {
                    "Link": {
                        "description": '`<...>; rel="next"`: the next page, when there is one',
                        "schema": {"type": "string"},
                    }
                },
            },
            422: _problem("malformed `limit` or `cursor`"),
        },
    )
    async def list_every_context(
        request: Request,
        actor: Indexer,
        limit: Annotated[
            DecimalInt[Annotated[int, Field(ge=1, le=MAX_CATALOG_PAGE)]],
            Query(description="page size, in decimal without sign or leading zeros"),
        ] = DEFAULT_CATALOG_PAGE,
        cursor: Annotated[
            str | None,
            Query(
                pattern=CATALOG_CURSOR_PATTERN,
                max_length=MAX_CATALOG_CURSOR_LENGTH,
                description="`next_cursor` of the previous page (else 422)",
            ),
        ] = None,
    ) -> Response:
        """Every live context, whatever its ACL, a page at a time."""
        page = await catalog.page(actor, cursor=cursor, limit=limit)
        headers = {}
        if page.next_cursor is not None:
            following = request.url.include_query_params(cursor=page.next_cursor)
            headers["Link"] = f'<{following}>; rel="next"'
        return json_response(render_catalog_page(page), headers=headers)

    return router
