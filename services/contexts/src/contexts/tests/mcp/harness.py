"""The MCP endpoint served for tests, and SDK clients of both protocol eras.

A slipway.web app with the endpoint installed at /mcp, the registry on the domain's
in-memory fakes (or one given), slipway.events' in-memory stream fed from their outbox and
read by one `StreamHub`, real HS256 tokens, served by uvicorn on a free port of 127.0.0.1.
Clients are the SDK's own `Client` over its Streamable HTTP transport: `mode="legacy"` for
the 2025-11-25 handshake era, `mode="2026-07-28"` (or `"auto"`, which probes
`server/discover`) for the stateless era; raw 2026-07-28 requests with `modern_post`.
"""

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from mcp import Client, ClientSession
from mcp.client.session import IncomingMessage
from mcp.shared.exceptions import MCPError

from contexts.adapters.sql.outbox import as_event
from contexts.domain.builtin_kinds import default_kinds
from contexts.domain.events import ContextAccess
from contexts.domain.model import ContextKey
from contexts.domain.service import ContextRegistry
from contexts.events.visibility import EventVisibility
from contexts.mcp.server import McpEndpoint, build_mcp
from contexts.settings import DEV_AUDIENCE, DEV_HS256_SECRET, DEV_ISSUER, Settings
from contexts.tests.unit.domain.fakes import FixedClock, InMemoryStore
from slipway.auth import build_authenticator
from slipway.auth.testing import hs256_signing_key, mint_token
from slipway.events import FanoutSettings, InMemoryEventStream, StreamHub
from slipway.mcp.testing import mcp_client
from slipway.web import BackgroundTask, ServiceParts, create_app
from slipway.web.testing.server import serving

READ = "contexts:read"
WRITE = "contexts:write"
NAMESPACE = "agents"
TIMEOUT = 5.0
MODERN = "2026-07-28"
LEGACY = "legacy"
# Open subscriptions (SSE streams, MCP watched namespaces) per caller in these tests.
PER_CALLER = 2
# The endpoint's tools.
TOOLS = {"register_context", "update_context", "delete_context", "get_context", "list_contexts"}
# The `_meta` envelope of a raw 2026-07-28 request.
ENVELOPE = {
    "io.modelcontextprotocol/protocolVersion": MODERN,
    "io.modelcontextprotocol/clientCapabilities": {},
    "io.modelcontextprotocol/clientInfo": {"name": "raw", "version": "0"},
}


def token(subject: str, scopes: Iterable[str] = (READ, WRITE)) -> str:
    """A development HS256 token, as the service accepts it."""
    return mint_token(
        hs256_signing_key(DEV_HS256_SECRET),
        issuer=DEV_ISSUER,
        audience=DEV_AUDIENCE,
        subject=subject,
        scopes=list(scopes),
    )


def document(content: str, readers: Iterable[str] = ()) -> dict[str, Any]:
    """register_context arguments for a `document` v1 in NAMESPACE (add a name)."""
    return {
        "namespace": NAMESPACE,
        "kind": "document",
        "schema_version": 1,
        "body": {"content": content, "format": "markdown"},
        "acl": {"readers": list(readers), "writers": []},
    }


@dataclass
class Served:
    url: str
    store: InMemoryStore
    endpoint: McpEndpoint
    hub: StreamHub
    visibility: EventVisibility


class StoreAccess:
    """The AccessLookup port on the in-memory fakes: the latest committed version's ACL."""

    def __init__(self, store: InMemoryStore) -> None:
        self._store = store

    async def access_of(self, key: ContextKey) -> ContextAccess | None:
        versions = self._store.versions.get(key)
        if not versions:
            return None
        latest = versions[-1]
        return ContextAccess(version=latest.version, owner=latest.owner, acl=latest.acl)


def _outbox_pump(store: InMemoryStore, stream: InMemoryEventStream) -> BackgroundTask:
    # The outbox relay, reduced to what the fakes need: committed events go to the stream.
    async def pump() -> None:
        published = 0
        while True:
            pending = store.events[published:]
            if pending:
                await stream.publish([as_event(change) for change in pending])
                published += len(pending)
            await asyncio.sleep(0.01)

    return BackgroundTask("outbox-pump", pump)


@asynccontextmanager
async def serve(
    settings: Settings,
    registry_class: type[ContextRegistry] = ContextRegistry,
) -> AsyncIterator[Served]:
    """The app on uvicorn until the block ends (with a registry of `registry_class`)."""
    store = InMemoryStore()
    stream = InMemoryEventStream()
    registry = registry_class(store.unit_of_work, default_kinds(), FixedClock())
    authenticator = build_authenticator(settings.auth, environment=settings.environment)
    hub = StreamHub(stream, FanoutSettings(per_principal=PER_CALLER, read_block_ms=200))
    visibility = EventVisibility(StoreAccess(store))
    endpoint = build_mcp(registry, authenticator, hub, visibility, namespaces=[NAMESPACE])
    app = create_app(
        settings,
        ServiceParts(
            resources=[hub, endpoint, _outbox_pump(store, stream)],
            auth=authenticator,
            mounts=[endpoint.mount()],
        ),
        configure_logs=False,
    )
    async with serving(app, started_within=TIMEOUT, stopped_within=TIMEOUT) as running:
        yield Served(f"{running.url}/mcp", store, endpoint, hub, visibility)


@asynccontextmanager
async def connect(
    url: str,
    bearer: str,
    mode: str = MODERN,
    *,
    headers: dict[str, str] | None = None,
    on_message: Callable[[IncomingMessage], Any] | None = None,
) -> AsyncIterator[Client]:
    """A connected SDK `Client` in `mode`, with `Authorization: Bearer <bearer>`."""
    async with mcp_client(
        url,
        headers={"Authorization": f"Bearer {bearer}", **(headers or {})},
        mode=mode,
        read_timeout_seconds=TIMEOUT,
        on_message=on_message,
    ) as client:
        yield client


async def call(
    client: Client | ClientSession, tool: str, arguments: dict[str, Any]
) -> dict[str, Any]:
    """A tool's structured result, which must not be an error."""
    result = await client.call_tool(tool, arguments)
    assert not result.is_error, result.structured_content
    assert isinstance(result.structured_content, dict)
    return result.structured_content


async def update(client: Client | ClientSession, name: str, content: str) -> dict[str, Any]:
    """update_context of `name` in NAMESPACE to `content`, unconditionally."""
    return await call(
        client,
        "update_context",
        {"namespace": NAMESPACE, "name": name, "merge_patch": {"content": content}},
    )


async def register_plans(client: Client | ClientSession, namespaces: int) -> None:
    """A context `plan` that bob and carol may read in each of ns-0 .. ns-<namespaces - 1>."""
    for index in range(namespaces):
        await call(
            client,
            "register_context",
            {**document("x", ["subject:bob", "subject:carol"]), "namespace": f"ns-{index}"}
            | {"name": "plan"},
        )


def modern_post(
    method: str,
    params: dict[str, Any],
    *,
    request_id: int = 1,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    """httpx.post arguments for one self-contained 2026-07-28 request (alice's token)."""
    return {
        "json": {
            "jsonrpc": "2.0",
            "id": request_id,
            "method": method,
            "params": {**params, "_meta": ENVELOPE},
        },
        "headers": {
            "Accept": "application/json, text/event-stream",
            "Authorization": f"Bearer {token('alice')}",
            "MCP-Protocol-Version": MODERN,
            "Mcp-Method": method,
            **(headers or {}),
        },
    }


def answer_of(response: httpx.Response) -> dict[str, Any]:
    """The JSON-RPC answer of a response, JSON or a (single-exchange) SSE stream."""
    if response.headers["content-type"].startswith("application/json"):
        found: dict[str, Any] = response.json()
        return found
    for line in response.text.splitlines():
        if line.startswith("data:"):
            message = json.loads(line.removeprefix("data:"))
            if "id" in message:
                return dict(message)
    raise AssertionError(f"no answer in {response.text!r}")


def assert_refused_past_the_limit(error: MCPError) -> None:
    """A subscription refused because its caller holds PER_CALLER already."""
    assert error.error.data is not None
    assert error.error.data["scope"] == "principal"
    assert error.error.data["limit"] == PER_CALLER
