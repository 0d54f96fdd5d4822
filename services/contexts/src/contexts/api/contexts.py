"""The /v1 routes: contexts (create, replace, patch, delete, read, versions, audit, list) and kinds.

Concurrency control is HTTP's: every representation carries a strong `ETag`; writes honour
`If-Match` (412 when it does not match, or the context does not exist) and PUT honours
`If-None-Match: *` (create only: 412 when it exists); `GET` with a matching `If-None-Match`
answers 304. Every mutating request accepts `Idempotency-Key`: slipway.web's
`IdempotencyMiddleware` (composed in `composition.py`) acts on it before the route runs; the
routes only declare it, so the OpenAPI document shows it.

DELETE appends a tombstone version and answers 200 with it (its `version` and `ETag` tell the
client which version deleted the context); the history stays readable under `/versions`.
"""

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Header, Path, Query, Request, Response, params
from pydantic import BaseModel, Field, WithJsonSchema

from contexts.api.actor import actor_requiring
from contexts.api.errors import DomainErrorRoute
from contexts.api.representation import (
    DEFAULT_MAX_BYTES,
    RenderedVersions,
    json_response,
    render_context,
)
from contexts.api.schemas import (
    LABEL_SELECTOR_PATTERN,
    AuditEntryOut,
    AuditList,
    ContextIn,
    ContextOut,
    ContextPage,
    ContextPatch,
    KindList,
    VersionList,
)
from contexts.api.strict import (
    CURSOR_PATTERN,
    ENTITY_TAGS_PATTERN,
    DecimalInt,
)
from contexts.domain.cursor import MAX_CURSOR_LENGTH
from contexts.domain.kinds import KindRegistry
from contexts.domain.model import (
    ETAG_PATTERN,
    KIND_PATTERN,
    NAME_PATTERN,
    Acl,
    Actor,
    Context,
    ContextDraft,
    ContextKey,
)
from contexts.domain.policy import READ_SCOPE, WRITE_SCOPE
from contexts.domain.preconditions import parse_entity_tags
from contexts.domain.service import MAX_PAGE_SIZE, ContextRegistry
from slipway.logging import current_request_id
from slipway.web import ACCEPTS_IDEMPOTENCY_KEY, ORJSONResponse, accepts

MERGE_PATCH = "application/merge-patch+json"


def _problem(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/problem+json": {}}}


ETAG_HEADER = {
    "description": "the version's strong entity-tag, for `If-Match` / `If-None-Match`",
    "schema": {"type": "string", "pattern": ETAG_PATTERN},
}
NOT_FOUND = _problem("no such context (or it is deleted), or no such version")
# 401, 403, 413, 414, 415, 422, 429, 431 and 500 are documented by slipway.web for every
# operation; these are the ones the contexts' routes add.
READ_ERRORS: dict[int | str, dict[str, Any]] = {
    404: NOT_FOUND,
    422: _problem("malformed path, query or header (request validation or the domain's check)"),
}
PRECONDITION_FAILED = _problem(
    "`If-Match` matches no current ETag (or the context does not exist), or `If-None-Match` "
    "matches it"
)
WRITE_ERRORS: dict[int | str, dict[str, Any]] = {
    404: _problem(
        "the context exists but the caller may not read it, or (PATCH, DELETE) it does not exist"
    ),
    400: _problem("malformed `Idempotency-Key`"),
    409: {
        **_problem(
            "a request with the same `Idempotency-Key` is still in progress, or concurrent "
            "writes kept racing past the service's own retries"
        ),
        "headers": {
            "Retry-After": {
                "description": "seconds after which the request is worth repeating",
                "schema": {"type": "integer", "minimum": 0},
            }
        },
    },
    412: PRECONDITION_FAILED,
    422: _problem(
        "invalid request, body invalid for its kind (`urn:contexts:problem:invalid_body`), "
        "unknown kind, or an `Idempotency-Key` reused with a different request"
    ),
}

Namespace = Annotated[str, Path(pattern=NAME_PATTERN, examples=["team-a"])]
Name = Annotated[str, Path(pattern=NAME_PATTERN, examples=["runbook"])]
IfMatch = Annotated[
    str | None,
    Header(
        alias="If-Match",
        pattern=ENTITY_TAGS_PATTERN,
        description="`*` or a comma-separated list of entity-tags: apply only if the current "
        "ETag is one of these (strong comparison), else 412; malformed or empty: 422",
        examples=['"0123456789abcdef0123456789abcdef"'],
    ),
]
IfNoneMatch = Annotated[
    str | None,
    Header(
        alias="If-None-Match",
        pattern=ENTITY_TAGS_PATTERN,
        description="`*` or a comma-separated list of entity-tags. On PUT: `*` creates only "
        "(412 when the context exists); on GET: 304 when one matches (weak comparison)",
        examples=["*"],
    ),
]


LOCATION_HEADER = {
    "description": "the created context's path",
    "schema": {"type": "string", "format": "uri-reference"},
}


def accepts_merge_patch() -> params.Depends:
    """PATCH bodies are `application/merge-patch+json` only: 415 with `Accept-Patch` otherwise."""
    return accepts(MERGE_PATCH)


def _json(model: BaseModel, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return ORJSONResponse(model.model_dump(mode="json"), status_code=status, headers=headers)


def _location(request: Request, key: ContextKey) -> str:
    return str(request.url_for("get_context", namespace=key.namespace, name=key.name).path)


def _draft(kinds: KindRegistry, submitted: ContextIn) -> ContextDraft:
    version = submitted.schema_version or kinds.latest_version(submitted.kind)
    acl = None
    if submitted.acl is not None:
        acl = Acl(
            readers=frozenset(submitted.acl.readers), writers=frozenset(submitted.acl.writers)
        )
    return ContextDraft(
        kind=submitted.kind,
        schema_version=version,
        body=submitted.body,
        labels=submitted.labels,
        acl=acl,
    )


def _matches(if_none_match: str, etag: str) -> bool:
    if if_none_match.strip() == "*":
        return True
    return etag in {opaque for _weak, opaque in parse_entity_tags(if_none_match)}


def contexts_router(
    registry: ContextRegistry,
    kinds: KindRegistry,
    *,
    groups_claim: str = "groups",
    rendered_max_bytes: int = DEFAULT_MAX_BYTES,
) -> APIRouter:
    """The /v1/contexts routes over `registry`, and /v1/kinds.

    Reads render a stored version once (`RenderedVersions`, at most `rendered_max_bytes`
    kept); writes answer with the version they wrote, rendered as it was submitted (on
    PostgreSQL a read gives jsonb's key order), so it is not kept.
    """
    router = APIRouter(prefix="/v1", tags=["contexts"], route_class=DomainErrorRoute)
    rendered = RenderedVersions(rendered_max_bytes)

    def read_response(context: Context) -> Response:
        return json_response(rendered.render(context), headers={"ETag": context.etag})

    def written_response(context: Context, status: int = 200, **headers: str) -> Response:
        return json_response(render_context(context), status, {"ETag": context.etag, **headers})

    reader: Callable[..., Any] = actor_requiring(READ_SCOPE, groups_claim)
    writer: Callable[..., Any] = actor_requiring(WRITE_SCOPE, groups_claim)
    Reader = Annotated[Actor, Depends(reader)]  # noqa: N806 - a type alias
    Writer = Annotated[Actor, Depends(writer)]  # noqa: N806 - a type alias

    # The read first: the router tries routes in order, so the hottest request matches at once.
    @router.get(
        "/contexts/{namespace}/{name}",
        response_model=ContextOut,
        summary="Read a context",
        responses={
            200: {"description": "the current version", "headers": {"ETag": ETAG_HEADER}},
            304: {"description": "not modified (If-None-Match)", "headers": {"ETag": ETAG_HEADER}},
            **READ_ERRORS,
        },
    )
    async def get_context(
        namespace: Namespace,
        name: Name,
        actor: Reader,
        if_none_match: IfNoneMatch = None,
    ) -> Response:
        """The current version; 304 without a body when `If-None-Match` matches its ETag."""
        context = await registry.get(actor, ContextKey.parse(namespace, name))
        if if_none_match is not None and _matches(if_none_match, context.etag):
            return Response(status_code=304, headers={"ETag": context.etag})
        return read_response(context)

    @router.put(
        "/contexts/{namespace}/{name}",
        response_model=ContextOut,
        status_code=200,
        summary="Create or replace a context",
        dependencies=[ACCEPTS_IDEMPOTENCY_KEY],
        responses={
            200: {"description": "replaced, or unchanged", "headers": {"ETag": ETAG_HEADER}},
            201: {
                "model": ContextOut,
                "description": "created",
                "headers": {"ETag": ETAG_HEADER, "Location": LOCATION_HEADER},
            },
            **WRITE_ERRORS,
        },
    )
    async def put_context(
        request: Request,
        namespace: Namespace,
        name: Name,
        submitted: ContextIn,
        actor: Writer,
        if_match: IfMatch = None,
        if_none_match: IfNoneMatch = None,
    ) -> Response:
        """Create the context, or replace its content; the same content again changes nothing.

        201 on creation, else 200 (a new version only when something changed).
        """
        key = ContextKey.parse(namespace, name)
        result = await registry.put(
            actor,
            key,
            _draft(kinds, submitted),
            if_match=if_match,
            if_none_match=if_none_match,
            request_id=current_request_id(),
        )
        if result.created:
            return written_response(result.context, 201, Location=_location(request, key))
        return written_response(result.context)

    @router.patch(
        "/contexts/{namespace}/{name}",
        response_model=ContextOut,
        summary="Merge-patch a context's body and labels",
        dependencies=[accepts_merge_patch(), ACCEPTS_IDEMPOTENCY_KEY],
        responses={
            200: {"description": "patched", "headers": {"ETag": ETAG_HEADER}},
            **WRITE_ERRORS,
        },
    )
    async def patch_context(
        namespace: Namespace,
        name: Name,
        patch: Annotated[ContextPatch, Body(media_type=MERGE_PATCH)],
        actor: Writer,
        if_match: IfMatch = None,
    ) -> Response:
        """Apply a JSON Merge Patch (RFC 7396, `application/merge-patch+json`) to `body` and
        `labels`; the result must still be valid for the context's kind."""
        result = await registry.patch(
            actor,
            ContextKey.parse(namespace, name),
            patch.body if "body" in patch.model_fields_set else {},
            labels_patch=patch.labels,
            if_match=if_match,
            request_id=current_request_id(),
        )
        return written_response(result.context)

    @router.delete(
        "/contexts/{namespace}/{name}",
        response_model=ContextOut,
        summary="Delete a context (appends a tombstone version)",
        dependencies=[ACCEPTS_IDEMPOTENCY_KEY],
        responses={
            200: {"description": "the tombstone version", "headers": {"ETag": ETAG_HEADER}},
            **WRITE_ERRORS,
        },
    )
    async def delete_context(
        namespace: Namespace,
        name: Name,
        actor: Writer,
        if_match: IfMatch = None,
    ) -> Response:
        """Delete the context: 200 with the tombstone version; its history stays readable."""
        deleted = await registry.delete(
            actor,
            ContextKey.parse(namespace, name),
            if_match=if_match,
            request_id=current_request_id(),
        )
        return written_response(deleted)

    @router.get(
        "/contexts/{namespace}/{name}/versions",
        response_model=VersionList,
        summary="Every version of a context",
        responses=READ_ERRORS,
    )
    async def list_versions(namespace: Namespace, name: Name, actor: Reader) -> Response:
        """Every version, oldest first, the tombstones of deletions included."""
        versions = await registry.versions(actor, ContextKey.parse(namespace, name))
        return json_response(rendered.render_versions(versions))

    @router.get(
        "/contexts/{namespace}/{name}/versions/{version}",
        response_model=ContextOut,
        summary="One version of a context",
        responses={
            200: {"description": "the version", "headers": {"ETag": ETAG_HEADER}},
            **READ_ERRORS,
        },
    )
    async def get_version(
        namespace: Namespace,
        name: Name,
        version: Annotated[
            DecimalInt[Annotated[int, Field(ge=1, le=2**31 - 1)]],
            Path(description="a version number, in decimal without sign or leading zeros"),
        ],
        actor: Reader,
    ) -> Response:
        """Version `version`, tombstones included."""
        found = await registry.get_version(actor, ContextKey.parse(namespace, name), version)
        return read_response(found)

    @router.get(
        "/contexts/{namespace}/{name}/audit",
        response_model=AuditList,
        summary="The audit trail of a context",
        responses=READ_ERRORS,
    )
    async def get_audit(namespace: Namespace, name: Name, actor: Reader) -> Response:
        """Who changed the context, when, and the content hashes around each change."""
        entries = await registry.audit(actor, ContextKey.parse(namespace, name))
        return _json(AuditList(items=[AuditEntryOut.of(entry) for entry in entries]))

    @router.get(
        "/contexts/{namespace}",
        response_model=ContextPage,
        summary="List a namespace's contexts",
        responses={
            200: {
                "description": "a page, by name",
                "headers": {
                    "Link": {
                        "description": '`<next page>; rel="next"` unless the last page',
                        "schema": {"type": "string"},
                    }
                },
            },
            422: READ_ERRORS[422],
        },
    )
    async def list_contexts(
        request: Request,
        namespace: Namespace,
        actor: Reader,
        kind: Annotated[
            str | None,
            Query(
                pattern=KIND_PATTERN,
                max_length=63,
                description="only contexts of this kind (a kind name; else 422)",
            ),
        ] = None,
        label: Annotated[
            str | None,
            # The syntax is documented; `LabelSelector.parse` (the domain) enforces it (422).
            WithJsonSchema(
                {"type": "string", "pattern": LABEL_SELECTOR_PATTERN, "examples": ["team=a"]}
            ),
            Query(
                max_length=600,
                description="`key=value`: a label key, `=`, a value of at most 256 characters "
                "without U+0000; else 422",
            ),
        ] = None,
        limit: Annotated[
            DecimalInt[Annotated[int, Field(ge=1, le=MAX_PAGE_SIZE)]],
            Query(description="page size, in decimal without sign or leading zeros"),
        ] = 50,
        cursor: Annotated[
            str | None,
            Query(
                pattern=CURSOR_PATTERN,
                max_length=MAX_CURSOR_LENGTH,
                description="`next_cursor` of the previous page, for the same namespace, kind "
                "and label only (else 422)",
            ),
        ] = None,
    ) -> Response:
        """The live contexts the caller may read, by name, a page at a time.

        The next page's cursor is `next_cursor` in the body and a `Link: <...>; rel="next"`
        header; a cursor only works with the namespace, kind and label it was issued for.
        """
        page = await registry.list(
            actor, namespace, kind=kind, label=label, limit=limit, cursor=cursor
        )
        headers = {}
        if page.next_cursor is not None:
            following = request.url.include_query_params(cursor=page.next_cursor)
            headers["Link"] = f'<{following}>; rel="next"'
        return json_response(rendered.render_page(page), headers=headers)

    @router.get(
        "/kinds",
        response_model=KindList,
        tags=["kinds"],
        summary="Registered kinds and their schemas",
    )
    async def list_kinds(actor: Reader) -> Response:
        """Every kind a context may have, with each schema version's JSON Schema."""
        return _json(KindList.of(kinds))

    return router
