"""The MCP tools: register, update, delete, get and list contexts.

Each tool's input schema is its pydantic model's JSON schema. A domain error (and arguments
the model refuses) comes back as a tool result with `isError` set, carrying the same RFC 9457
problem the REST API would answer with, as text and as `structuredContent`: the model sees it
and can correct itself. Scopes and ACLs are the domain's: `contexts:write` for the writes,
`contexts:read` for the reads.
"""

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any

from mcp import types
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from contexts.domain.errors import DomainError
from contexts.domain.model import (
    Acl,
    Actor,
    ContextDraft,
    ContextKey,
    JsonObject,
    KindName,
    Labels,
    Name,
    StorableJson,
    StorableText,
)
from contexts.domain.service import MAX_PAGE_SIZE, ContextRegistry
from contexts.mcp.views import invalid_arguments, problem_dict, view_of


class _Arguments(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Addressed(_Arguments):
    namespace: Annotated[Name, Field(description="The context's namespace")]
    name: Annotated[Name, Field(description="The context's name, unique in its namespace")]

    def key(self) -> ContextKey:
        return ContextKey(namespace=self.namespace, name=self.name)


class RegisterContext(_Addressed):
    """Create a context, or replace its content (a new version; the same content changes
    nothing)."""

    kind: Annotated[KindName, Field(description="A registered kind, e.g. document")]
    schema_version: Annotated[int, Field(ge=1, description="The kind's schema version")]
    body: Annotated[JsonObject, Field(description="The JSON document, checked by the kind")]
    labels: Annotated[Labels | None, Field(description="key: value labels")] = None
    acl: Annotated[
        Acl | None,
        Field(description="readers/writers: subject:<id> or group:<name>; omit to keep"),
    ] = None
    if_match: Annotated[str | None, Field(description="Only if the current etag is this")] = None
    if_none_match: Annotated[
        str | None, Field(description='"*": only if the context does not exist yet')
    ] = None


class UpdateContext(_Addressed):
    """Merge-patch (RFC 7396) a context's body, and optionally its labels."""

    merge_patch: Annotated[
        StorableJson, Field(description="RFC 7396 merge patch of the body (null removes a member)")
    ]
    labels_patch: Annotated[
        dict[str, StorableText | None] | None, Field(description="Labels to set; null removes one")
    ] = None
    if_match: Annotated[str | None, Field(description="Only if the current etag is this")] = None


class DeleteContext(_Addressed):
    """Delete a context (its history is kept)."""

    if_match: Annotated[str | None, Field(description="Only if the current etag is this")] = None


class GetContext(_Addressed):
    """Read a context: its current version, or the version asked for."""

    version: Annotated[int | None, Field(ge=1, description="A past version")] = None


class ListContexts(_Arguments):
    """List the contexts of a namespace the caller may read, by name, a page at a time."""

    namespace: Annotated[Name, Field(description="The namespace")]
    kind: Annotated[KindName | None, Field(description="Only this kind")] = None
    label: Annotated[str | None, Field(description="Only contexts with this key=value")] = None
    limit: Annotated[int, Field(ge=1, le=MAX_PAGE_SIZE)] = 50
    cursor: Annotated[str | None, Field(description="next_cursor of the previous page")] = None


Handler = Callable[[ContextRegistry, Actor, Any], Awaitable[dict[str, Any]]]


@dataclass(frozen=True)
class _Tool:
    arguments: type[_Arguments]
    run: Handler
    annotations: types.ToolAnnotations


async def _register(registry: ContextRegistry, actor: Actor, args: RegisterContext) -> JsonObject:
    draft = ContextDraft(
        kind=args.kind,
        schema_version=args.schema_version,
        body=args.body,
        labels=args.labels or {},
        acl=args.acl,
    )
    result = await registry.put(
        actor, args.key(), draft, if_match=args.if_match, if_none_match=args.if_none_match
    )
    return {"created": result.created, "changed": result.changed, **view_of(result.context)}


async def _update(registry: ContextRegistry, actor: Actor, args: UpdateContext) -> JsonObject:
    result = await registry.patch(
        actor,
        args.key(),
        args.merge_patch,
        labels_patch=args.labels_patch,
        if_match=args.if_match,
    )
    return {"created": False, "changed": result.changed, **view_of(result.context)}


async def _delete(registry: ContextRegistry, actor: Actor, args: DeleteContext) -> JsonObject:
    deleted = await registry.delete(actor, args.key(), if_match=args.if_match)
    return {
        "deleted": True,
        "namespace": args.namespace,
        "name": args.name,
        "version": deleted.version,
    }


async def _get(registry: ContextRegistry, actor: Actor, args: GetContext) -> dict[str, Any]:
    if args.version is None:
        return view_of(await registry.get(actor, args.key()))
    found = await registry.get_version(actor, args.key(), args.version)
    return {**view_of(found), "deleted": found.deleted}


async def _list(registry: ContextRegistry, actor: Actor, args: ListContexts) -> dict[str, Any]:
    page = await registry.list(
        actor,
        args.namespace,
        kind=args.kind,
        label=args.label,
        limit=args.limit,
        cursor=args.cursor,
    )
    return {"items": [view_of(item) for item in page.items], "next_cursor": page.next_cursor}


_WRITE = types.ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=True)
_READ = types.ToolAnnotations(read_only_hint=True)
TOOLS: dict[str, _Tool] = {
    "register_context": _Tool(RegisterContext, _register, _WRITE),
    "update_context": _Tool(
        UpdateContext,
        _update,
        types.ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=False),
    ),
    "delete_context": _Tool(
        DeleteContext, _delete, types.ToolAnnotations(read_only_hint=False, destructive_hint=True)
    ),
    "get_context": _Tool(GetContext, _get, _READ),
    "list_contexts": _Tool(ListContexts, _list, _READ),
}


def tool_list() -> list[types.Tool]:
    """Every tool with its input schema."""
    return [
        types.Tool(
            name=name,
            description=(tool.arguments.__doc__ or "").replace("\n", " "),
            input_schema=tool.arguments.model_json_schema(),
            annotations=tool.annotations,
        )
        for name, tool in TOOLS.items()
    ]


def _result(payload: dict[str, Any], *, is_error: bool = False) -> types.CallToolResult:
    return types.CallToolResult(
        content=[types.TextContent(text=json.dumps(payload, ensure_ascii=False))],
        structured_content=payload,
        is_error=is_error,
    )


async def call_tool(
    registry: ContextRegistry, actor: Actor, tool: _Tool, arguments: dict[str, Any] | None
) -> types.CallToolResult:
    """Run a tool; domain errors and invalid arguments become `isError` results."""
    try:
        try:
            parsed = tool.arguments.model_validate(arguments or {})
        except ValidationError as error:
            raise invalid_arguments(error) from error
        return _result(await tool.run(registry, actor, parsed))
    except DomainError as error:
        return _result(problem_dict(error), is_error=True)
