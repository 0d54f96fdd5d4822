"""`build_mcp`: the registry's MCP server, on slipway.mcp's Streamable HTTP endpoint.

Clients connect to `http://<host>:<port>/mcp` (exactly; `/mcp/` works too when mounted)
with `Authorization: Bearer <token>`, the same tokens as the REST API. One endpoint serves
both protocol eras, on the SDK's dual-era Streamable HTTP serving (its session manager picks
the era from each request's `MCP-Protocol-Version` header):

- 2025-11-25 and earlier (the handshake era): stateful sessions opened by `initialize`
  (`Mcp-Session-Id`), `resources/subscribe` / `unsubscribe`, and
  `notifications/resources/updated` on the session's standalone stream (its GET /mcp).
- 2026-07-28 (the stateless era): no `initialize` and no session; `server/discover` tells
  the versions and capabilities, and every request is a self-contained POST carrying its
  envelope in `_meta` and the `Mcp-Method` / `Mcp-Name` headers, which the SDK checks
  against the body (a mismatch is refused, HTTP 400). Subscriptions are
  `subscriptions/listen`: the response to that POST is the stream of
  `notifications/resources/updated` for the listed `context://` URIs.

Both are fed by the same change events, ACL-filtered and limited per caller: see
`subscriptions.SubscriptionHub`.

- Resources: `context://{namespace}/{name}` (also listed as a resource template).
  `resources/list` lists the live contexts the caller may read in the configured
  `namespaces` (the registry cannot enumerate namespaces; contexts elsewhere are still
  readable by URI and listable with the `list_contexts` tool). `resources/read` returns the
  body as `application/json` text; `_meta` carries version, etag, kind, schema version,
  labels, owner and update time. A context the caller may not read fails exactly like a
  missing one: error -32002 "Resource not found".
- Tools: see `tools`.

Errors: domain errors keep their codes (-32002 not found, -32602 invalid params, -32600
otherwise; tool calls answer them as `isError` results). Any other exception of a handler is
logged with the request id and answered, in both eras, as JSON-RPC -32603 "Internal error"
with only `{"request_id": ...}` (the slipway request id, also the `X-Request-ID` response
header) as data: no exception text reaches a client.

Scopes: `contexts:read` for resources (the domain checks it, as it checks `contexts:write`
for the write tools and every ACL); a token with no `contexts:*` scope is refused at the door.
"""

import base64
import json
import logging
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from mcp import types
from mcp.server import Server, ServerRequestContext
from mcp.server.subscriptions import InMemorySubscriptionBus, ListenHandler, ResourceUpdated
from mcp.shared.exceptions import MCPError
from starlette.types import ASGIApp

from contexts.domain.errors import DomainError, InvalidInput, NotFound, UnknownKind
from contexts.domain.model import Actor, Context, ContextKey, parse_namespace
from contexts.domain.service import MAX_PAGE_SIZE, ContextRegistry
from contexts.events.visibility import EventVisibility
from contexts.mcp.auth import ACTOR_STATE_KEY, mcp_gate
from contexts.mcp.subscriptions import SubscriptionHub
from contexts.mcp.tools import TOOLS, call_tool, tool_list
from contexts.mcp.views import JSON, URI_TEMPLATE, key_of, metadata_of, problem_dict, uri_of
from slipway.auth import Authenticator
from slipway.events import StreamHub, SubscriptionClosed, TooManySubscriptions
from slipway.mcp import InternalErrors, caller_of_context
from slipway.mcp import McpEndpoint as BaseEndpoint

logger = logging.getLogger(__name__)

PATH = "/mcp"
SERVER_NAME = "contexts"
# MCP's "resource not found" error code (the spec's examples use it; JSON-RPC leaves
# -32000..-32099 to implementations).
RESOURCE_NOT_FOUND = -32002
SESSION_ID_HEADER = "mcp-session-id"
# The most `context://` URIs one `subscriptions/listen` stream may watch.
MAX_LISTEN_URIS = MAX_PAGE_SIZE
INSTRUCTIONS = (
    "A registry of named, versioned, schema-checked JSON contexts. Read them as resources "
    f"({URI_TEMPLATE}, JSON), subscribe to be told when one changes, and write them with the "
    "register_context / update_context tools."
)

RegistryProvider = ContextRegistry | Callable[[], ContextRegistry]


def _mcp_error(error: DomainError, uri: str | None = None) -> MCPError:
    data: dict[str, Any] = {"problem": problem_dict(error)}
    if uri is not None:
        data["uri"] = uri
    if isinstance(error, NotFound):
        return MCPError(RESOURCE_NOT_FOUND, "Resource not found", data)
    if isinstance(error, InvalidInput | UnknownKind):
        return MCPError(types.INVALID_PARAMS, error.detail, data)
    return MCPError(types.INVALID_REQUEST, error.detail, data)


def _refusal_error(refusal: TooManySubscriptions, **extra: Any) -> MCPError:
    return MCPError(
        types.INVALID_REQUEST,
        str(refusal),
        {
            "scope": refusal.scope,
            "limit": refusal.limit,
            "retry_after_seconds": refusal.retry_after_seconds,
            **extra,
        },
    )


def _actor(ctx: ServerRequestContext[Any, Any]) -> Actor:
    return caller_of_context(ctx, ACTOR_STATE_KEY, Actor)


def _session_key(ctx: ServerRequestContext[Any, Any]) -> str:
    headers = getattr(ctx.request, "headers", None)
    found = headers.get(SESSION_ID_HEADER) if headers is not None else None
    if not found:
        raise MCPError(types.INVALID_REQUEST, "subscriptions need a stateful session")
    return str(found)


def _encode_cursor(index: int, cursor: str | None) -> str:
    raw = json.dumps([index, cursor]).encode()
    return base64.urlsafe_b64encode(raw).decode()


def _decode_cursor(cursor: str | None) -> tuple[int, str | None]:
    if cursor is None:
        return 0, None
    try:
        index, inner = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        if isinstance(index, int) and index >= 0 and (inner is None or isinstance(inner, str)):
            return index, inner
    except (ValueError, TypeError):
        pass
    raise MCPError(types.INVALID_PARAMS, "invalid cursor")


def _resource_of(context: Context) -> types.Resource:
    return types.Resource(
        uri=uri_of(context.key),
        name=f"{context.key.namespace}/{context.key.name}",
        description=f"{context.kind} (schema v{context.schema_version}), version {context.version}",
        mime_type=JSON,
        meta=metadata_of(context),
    )


class McpHandlers:
    """The MCP request handlers, on a registry, an event stream and the listed namespaces."""

    def __init__(
        self, registry: Callable[[], ContextRegistry], hub: SubscriptionHub, namespaces: list[str]
    ) -> None:
        self._registry = registry
        self._hub = hub
        self._namespaces = namespaces
        self._listeners: set[ListenHandler] = set()

    async def list_resources(
        self, ctx: ServerRequestContext[Any, Any], params: types.PaginatedRequestParams | None
    ) -> types.ListResourcesResult:
        """A page of the readable contexts of the configured namespaces."""
        actor = _actor(ctx)
        index, inner = _decode_cursor(params.cursor if params is not None else None)
        if index >= len(self._namespaces):
            return types.ListResourcesResult(resources=[])
        try:
            page = await self._registry().list(
                actor, self._namespaces[index], limit=MAX_PAGE_SIZE, cursor=inner
            )
        except DomainError as error:
            raise _mcp_error(error) from error
        if page.next_cursor is not None:
            next_cursor: str | None = _encode_cursor(index, page.next_cursor)
        elif index + 1 < len(self._namespaces):
            next_cursor = _encode_cursor(index + 1, None)
        else:
            next_cursor = None
        return types.ListResourcesResult(
            resources=[_resource_of(context) for context in page.items], next_cursor=next_cursor
        )

    async def list_resource_templates(
        self, ctx: ServerRequestContext[Any, Any], params: types.PaginatedRequestParams | None
    ) -> types.ListResourceTemplatesResult:
        """The one template: `context://{namespace}/{name}`."""
        return types.ListResourceTemplatesResult(
            resource_templates=[
                types.ResourceTemplate(
                    uri_template=URI_TEMPLATE,
                    name="context",
                    description="A context of the registry, by namespace and name",
                    mime_type=JSON,
                )
            ]
        )

    async def read_resource(
        self, ctx: ServerRequestContext[Any, Any], params: types.ReadResourceRequestParams
    ) -> types.ReadResourceResult:
        """The current version's body, as JSON text, with its metadata in `_meta`."""
        actor = _actor(ctx)
        uri = str(params.uri)
        try:
            context = await self._registry().get(actor, key_of(uri))
        except DomainError as error:
            raise _mcp_error(error, uri) from error
        return types.ReadResourceResult(
            contents=[
                types.TextResourceContents(
                    uri=uri,
                    mime_type=JSON,
                    text=json.dumps(context.body, ensure_ascii=False),
                    meta=metadata_of(context),
                )
            ]
        )

    async def subscribe(
        self, ctx: ServerRequestContext[Any, Any], params: types.SubscribeRequestParams
    ) -> types.EmptyResult:
        """Subscribe the session to a context the caller may read."""
        actor = _actor(ctx)
        uri = str(params.uri)
        try:
            key = key_of(uri)
            context = await self._registry().get(actor, key)
        except DomainError as error:
            raise _mcp_error(error, uri) from error
        session_key = _session_key(ctx)
        try:
            new_session = await self._hub.subscribe(
                session_key, ctx.session, actor, key, context.version
            )
        except TooManySubscriptions as refusal:
            raise _refusal_error(refusal, uri=uri) from None
        except SubscriptionClosed as closed:
            raise MCPError(types.INTERNAL_ERROR, closed.reason, {"uri": uri}) from None
        if new_session:
            # Forget the session's subscriptions when the SDK closes its connection. The
            # connection is not public on the request context in this SDK version; without
            # it, a failed send or shutdown ends them instead.
            connection = getattr(ctx.session, "_connection", None)
            exit_stack = getattr(connection, "exit_stack", None)
            if exit_stack is not None:
                exit_stack.callback(self._hub.drop, session_key)
        return types.EmptyResult()

    async def unsubscribe(
        self, ctx: ServerRequestContext[Any, Any], params: types.UnsubscribeRequestParams
    ) -> types.EmptyResult:
        """Unsubscribe the session from a context (unknown subscriptions are ignored)."""
        _actor(ctx)
        uri = str(params.uri)
        try:
            key = key_of(uri)
        except DomainError as error:
            raise _mcp_error(error, uri) from error
        self._hub.unsubscribe(_session_key(ctx), key)
        return types.EmptyResult()

    async def listen(
        self, ctx: ServerRequestContext[Any, Any], params: types.SubscriptionsListenRequestParams
    ) -> types.SubscriptionsListenResult:
        """Serve one `subscriptions/listen` stream (2026-07-28) of the listed contexts' changes.

        Each `context://` URI is watched from the version the caller can read now (a context
        it cannot read, or that does not exist yet, from none: it is told once it may read
        a version). Only resource subscriptions are honored (tools and the resource list do
        not change here), so the acknowledgment lists just those. The stream is the SDK's
        `ListenHandler` on a bus of this stream's own, fed by `SubscriptionHub`.
        """
        actor = _actor(ctx)
        uris = list(dict.fromkeys(params.notifications.resource_subscriptions or ()))
        if len(uris) > MAX_LISTEN_URIS:
            raise MCPError(
                types.INVALID_PARAMS, f"at most {MAX_LISTEN_URIS} resource subscriptions per stream"
            )
        versions: dict[ContextKey, int] = {}
        registry = self._registry()
        for uri in uris:
            try:
                key = key_of(uri)
            except DomainError as error:
                raise _mcp_error(error, uri) from error
            try:
                versions[key] = (await registry.get(actor, key)).version
            except NotFound:
                versions[key] = 0
            except DomainError as error:
                raise _mcp_error(error, uri) from error
        bus = InMemorySubscriptionBus()

        async def notify(uri: str) -> None:
            await bus.publish(ResourceUpdated(uri=uri))

        listen_key = f"listen:{uuid.uuid4().hex}"
        try:
            await self._hub.listen(listen_key, actor, versions, notify)
        except TooManySubscriptions as refusal:
            raise _refusal_error(refusal) from None
        except SubscriptionClosed as closed:
            raise MCPError(types.INTERNAL_ERROR, closed.reason) from None
        stream = ListenHandler(bus, max_subscriptions=1)
        self._listeners.add(stream)
        honored = params.model_copy(
            update={"notifications": types.SubscriptionFilter(resource_subscriptions=uris or None)}
        )
        try:
            # The handler subscribes to the bus before its first await: nothing is lost.
            return await stream(ctx, honored)
        finally:
            self._listeners.discard(stream)
            self._hub.drop(listen_key)

    def close_listeners(self) -> None:
        """End every listen stream gracefully (each sends its final result)."""
        for stream in list(self._listeners):
            stream.close()

    async def list_tools(
        self, ctx: ServerRequestContext[Any, Any], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        """Every tool."""
        _actor(ctx)
        return types.ListToolsResult(tools=tool_list())

    async def call_tool(
        self, ctx: ServerRequestContext[Any, Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        """Run a tool as the caller."""
        actor = _actor(ctx)
        tool = TOOLS.get(params.name)
        if tool is None:
            raise MCPError(types.INVALID_PARAMS, f"unknown tool: {params.name}")
        return await call_tool(self._registry(), actor, tool, params.arguments)


class McpEndpoint(BaseEndpoint):
    """The MCP endpoint (slipway.mcp's, stateful): an ASGI app for `/mcp` and the slipway.web
    `Resource` running it, with the subscription hub its sessions and listen streams use.

    `start` runs the SDK's session manager (its task group holds every session; it hands
    2026-07-28 requests to the SDK's single-exchange entry) in a task of its own until
    `stop`; each start makes a new manager, as the SDK allows one run each.
    """

    def __init__(
        self,
        server: Server[Any],
        hub: SubscriptionHub,
        authenticator: Authenticator,
        *,
        handlers: McpHandlers | None = None,
        groups_claim: str,
        session_idle_timeout: float | None,
        path: str = PATH,
    ) -> None:
        self.hub = hub
        self.handlers = handlers

        def gate(app: ASGIApp) -> ASGIApp:
            return mcp_gate(app, authenticator, groups_claim)

        super().__init__(
            server,
            gate,
            stateless=False,
            session_idle_timeout=session_idle_timeout,
            path=path,
        )

    async def closing(self) -> None:
        """End the listen streams and stop the watchers, before the sessions end."""
        if self.handlers is not None:
            self.handlers.close_listeners()
        await self.hub.close()


def build_mcp(
    registry_provider: RegistryProvider,
    authenticate: Authenticator,
    hub: StreamHub,
    visibility: EventVisibility,
    *,
    namespaces: Sequence[str] = (),
    groups_claim: str = "groups",
    version: str = "",
    session_idle_timeout: float | None = 30 * 60,
) -> McpEndpoint:
    """The registry's MCP endpoint.

    `registry_provider`: the `ContextRegistry`, or a callable returning it (looked up per
    request). `authenticate`: slipway.auth's `Authenticator` (anything with its
    `authenticate_request`). `hub`: the process's `StreamHub` of change events, and
    `visibility` who may see which (shared with `/v1/events`). `namespaces`: whose
    contexts `resources/list` lists. `groups_claim`: the token claim listing groups.
    """
    if isinstance(registry_provider, ContextRegistry):
        registry = registry_provider

        def provide() -> ContextRegistry:
            return registry
    else:
        provide = registry_provider
    listed = [parse_namespace(namespace) for namespace in namespaces]
    subscriptions = SubscriptionHub(hub, visibility)
    handlers = McpHandlers(provide, subscriptions, listed)
    server: Server[Any] = Server(
        SERVER_NAME,
        version=version,
        instructions=INSTRUCTIONS,
        on_list_resources=handlers.list_resources,
        on_list_resource_templates=handlers.list_resource_templates,
        on_read_resource=handlers.read_resource,
        on_subscribe_resource=handlers.subscribe,
        on_unsubscribe_resource=handlers.unsubscribe,
        on_subscriptions_listen=handlers.listen,
        on_list_tools=handlers.list_tools,
        on_call_tool=handlers.call_tool,
    )
    # Innermost, so the SDK's tracing middleware still sees the error it answers with.
    server.middleware.append(InternalErrors(logger))
    return McpEndpoint(
        server,
        subscriptions,
        authenticate,
        handlers=handlers,
        groups_claim=groups_claim,
        session_idle_timeout=session_idle_timeout,
    )
