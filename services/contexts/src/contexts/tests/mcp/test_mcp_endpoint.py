"""The MCP endpoint, driven by the MCP SDK's own client over Streamable HTTP.

A slipway.web app with the endpoint installed at /mcp, the registry on the domain's
in-memory fakes, slipway.events' in-memory stream fed from their outbox and read by one
`StreamHub`, real HS256 tokens, served by uvicorn on a free port of 127.0.0.1.
"""

import asyncio
import json
import socket
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import uvicorn
from mcp import ClientSession, types
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
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
from slipway.web import BackgroundTask, ServiceParts, create_app

READ = "contexts:read"
WRITE = "contexts:write"
NAMESPACE = "agents"
TIMEOUT = 5.0

# resources/subscribe is the handshake era's (up to 2025-11-25), which this endpoint serves.
pytestmark = pytest.mark.filterwarnings("ignore:resources/.*subscribe is removed")


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
    """register_context arguments for a `document` v1 in NAMESPACE."""
    return {
        "namespace": NAMESPACE,
        "kind": "document",
        "schema_version": 1,
        "body": {"content": content, "format": "markdown"},
        "acl": {"readers": list(readers), "writers": []},
    }


# Open subscriptions (SSE streams and MCP watched namespaces) per caller in these tests.
PER_CALLER = 2


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


@pytest.fixture
async def served(settings: Settings) -> AsyncIterator[Served]:
    """The app on uvicorn, until the test ends."""
    store = InMemoryStore()
    stream = InMemoryEventStream()
    registry = ContextRegistry(store.unit_of_work, default_kinds(), FixedClock())
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

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(app, log_level="warning", lifespan="on", timeout_graceful_shutdown=1)
    )
    task = asyncio.create_task(server.serve(sockets=[sock]))
    async with asyncio.timeout(TIMEOUT):
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.01)
    try:
        yield Served(f"http://127.0.0.1:{port}/mcp", store, endpoint, hub, visibility)
    finally:
        server.should_exit = True
        async with asyncio.timeout(TIMEOUT):
            await task
        sock.close()


@asynccontextmanager
async def connect(
    url: str, bearer: str, on_update: "asyncio.Queue[str] | None" = None
) -> AsyncIterator[ClientSession]:
    """An initialized SDK client session, with `Authorization: Bearer <bearer>`."""

    async def handle(message: object) -> None:
        if on_update is not None and isinstance(message, types.ResourceUpdatedNotification):
            on_update.put_nowait(str(message.params.uri))

    async with (
        create_mcp_http_client(headers={"Authorization": f"Bearer {bearer}"}) as http,
        streamable_http_client(url, http_client=http) as (read, write),
        ClientSession(read, write, read_timeout_seconds=TIMEOUT, message_handler=handle) as session,
    ):
        async with asyncio.timeout(TIMEOUT):
            await session.initialize()
        yield session


async def call(session: ClientSession, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    """A tool's structured result, which must not be an error."""
    result = await session.call_tool(tool, arguments)
    assert not result.is_error, result.structured_content
    assert isinstance(result.structured_content, dict)
    return result.structured_content


async def test_initialize_advertises_resources_with_subscriptions_and_tools(
    served: Served,
) -> None:
    async with connect(served.url, token("alice")) as session:
        capabilities = session.initialize_result.capabilities  # type: ignore[union-attr]
        tools = await session.list_tools()
        templates = await session.list_resource_templates()

    assert capabilities.resources is not None
    assert capabilities.resources.subscribe is True
    assert capabilities.tools is not None
    assert {tool.name for tool in tools.tools} == {
        "register_context",
        "update_context",
        "delete_context",
        "get_context",
        "list_contexts",
    }
    register = next(tool for tool in tools.tools if tool.name == "register_context")
    assert {"namespace", "name", "kind", "schema_version", "body"} <= set(
        register.input_schema["required"]
    )
    assert [template.uri_template for template in templates.resource_templates] == [
        "context://{namespace}/{name}"
    ]


async def test_register_and_update_context(served: Served) -> None:
    async with connect(served.url, token("alice")) as session:
        created = await call(session, "register_context", {**document("v1"), "name": "plan"})
        updated = await call(
            session,
            "update_context",
            {
                "namespace": NAMESPACE,
                "name": "plan",
                "merge_patch": {"content": "v2"},
                "if_match": created["etag"],
            },
        )
        stale = await session.call_tool(
            "update_context",
            {
                "namespace": NAMESPACE,
                "name": "plan",
                "merge_patch": {"content": "v3"},
                "if_match": created["etag"],
            },
        )
        invalid = await session.call_tool(
            "register_context", {**document("x"), "name": "Not A Name"}
        )
        fetched = await call(session, "get_context", {"namespace": NAMESPACE, "name": "plan"})

    assert (created["created"], created["version"], created["uri"]) == (
        True,
        1,
        "context://agents/plan",
    )
    assert (updated["changed"], updated["version"]) == (True, 2)
    assert updated["body"]["content"] == "v2"
    assert stale.is_error
    assert stale.structured_content is not None
    assert stale.structured_content["status"] == 412
    assert stale.structured_content["type"] == "urn:contexts:problem:precondition_failed"
    assert invalid.is_error
    assert invalid.structured_content is not None
    assert invalid.structured_content["status"] == 422
    assert fetched["version"] == 2


async def test_list_and_read_resources(served: Served) -> None:
    async with connect(served.url, token("alice")) as session:
        plan = await call(session, "register_context", {**document("hello"), "name": "plan"})
        await call(session, "register_context", {**document("notes"), "name": "notes"})
        listed = await session.list_resources()
        read = await session.read_resource("context://agents/plan")

    assert [resource.uri for resource in listed.resources] == [
        "context://agents/notes",
        "context://agents/plan",
    ]
    assert all(resource.mime_type == "application/json" for resource in listed.resources)
    (contents,) = read.contents
    assert isinstance(contents, types.TextResourceContents)
    assert contents.mime_type == "application/json"
    assert json.loads(contents.text)["content"] == "hello"
    assert contents.meta is not None
    assert (contents.meta["version"], contents.meta["etag"]) == (1, plan["etag"])


async def test_subscribed_context_change_is_notified(served: Served) -> None:
    updates: asyncio.Queue[str] = asyncio.Queue()
    async with (
        connect(served.url, token("alice")) as writer,
        connect(served.url, token("bob"), on_update=updates) as watcher,
    ):
        await call(writer, "register_context", {**document("v1", ["subject:bob"]), "name": "plan"})
        await call(writer, "register_context", {**document("x", ["subject:bob"]), "name": "other"})
        await watcher.subscribe_resource("context://agents/plan")

        await call(
            writer,
            "update_context",
            {"namespace": NAMESPACE, "name": "other", "merge_patch": {"content": "y"}},
        )
        await call(
            writer,
            "update_context",
            {"namespace": NAMESPACE, "name": "plan", "merge_patch": {"content": "v2"}},
        )
        async with asyncio.timeout(TIMEOUT):
            first = await updates.get()
        reread = await watcher.read_resource(first)

        await watcher.unsubscribe_resource("context://agents/plan")
        await call(
            writer,
            "update_context",
            {"namespace": NAMESPACE, "name": "plan", "merge_patch": {"content": "v3"}},
        )
        await asyncio.sleep(0.5)

    assert first == "context://agents/plan"
    (contents,) = reread.contents
    assert isinstance(contents, types.TextResourceContents)
    assert contents.meta is not None
    assert contents.meta["version"] == 2
    assert updates.empty()  # nothing for "other", nothing after unsubscribing


@pytest.mark.parametrize(
    ("headers", "problem_type"),
    [
        ({}, "urn:slipway:problem:missing-token"),
        ({"Authorization": "Bearer not-a-jwt"}, "urn:slipway:problem:invalid-token"),
    ],
)
async def test_without_a_valid_token_the_endpoint_answers_401(
    served: Served, headers: dict[str, str], problem_type: str
) -> None:
    initialize = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}}
    async with httpx.AsyncClient(timeout=TIMEOUT) as http:
        response = await http.post(
            served.url,
            json=initialize,
            headers={"Accept": "application/json, text/event-stream", **headers},
        )

    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.json()["type"] == problem_type


async def test_a_token_without_contexts_scopes_gets_403(served: Served) -> None:
    async with httpx.AsyncClient(timeout=TIMEOUT) as http:
        response = await http.post(
            served.url,
            json={"jsonrpc": "2.0", "id": 1, "method": "ping"},
            headers={"Authorization": f"Bearer {token('mallory', scopes=['other:read'])}"},
        )

    assert response.status_code == 403
    assert response.json()["type"] == "urn:slipway:problem:insufficient-scope"


async def test_a_read_only_token_cannot_call_the_write_tools(served: Served) -> None:
    async with connect(served.url, token("alice", scopes=[READ])) as session:
        refused = await session.call_tool("register_context", {**document("x"), "name": "plan"})
        listed = await session.list_resources()

    assert refused.is_error
    assert refused.structured_content is not None
    assert refused.structured_content["status"] == 403
    assert refused.structured_content["type"] == "urn:contexts:problem:forbidden"
    assert served.store.all_versions() == []
    assert listed.resources == []


async def test_a_context_the_caller_may_not_read_is_hidden(served: Served) -> None:
    async with connect(served.url, token("alice")) as alice:
        await call(alice, "register_context", {**document("secret"), "name": "private"})
        await call(
            alice, "register_context", {**document("shared", ["subject:bob"]), "name": "open"}
        )

    async with connect(served.url, token("bob")) as bob:
        listed = await bob.list_resources()
        with pytest.raises(MCPError) as read_error:
            await bob.read_resource("context://agents/private")
        with pytest.raises(MCPError) as missing_error:
            await bob.read_resource("context://agents/missing")
        with pytest.raises(MCPError) as subscribe_error:
            await bob.subscribe_resource("context://agents/private")
        got = await bob.call_tool("get_context", {"namespace": NAMESPACE, "name": "private"})

    assert [resource.uri for resource in listed.resources] == ["context://agents/open"]
    assert read_error.value.code == missing_error.value.code == -32002
    assert read_error.value.message == missing_error.value.message == "Resource not found"
    assert subscribe_error.value.code == -32002
    assert got.is_error
    assert got.structured_content is not None
    assert got.structured_content["status"] == 404


async def test_sessions_are_bound_to_their_subject(served: Served) -> None:
    async with connect(served.url, token("alice")) as alice:
        await call(alice, "register_context", {**document("x"), "name": "plan"})
        async with httpx.AsyncClient(timeout=TIMEOUT) as http:
            # The session id, as the SDK client sends it, is not visible to us: open one.
            opened = await http.post(
                served.url,
                json={
                    "jsonrpc": "2.0",
                    "id": 1,
                    "method": "initialize",
                    "params": {
                        "protocolVersion": "2025-06-18",
                        "capabilities": {},
                        "clientInfo": {"name": "t", "version": "0"},
                    },
                },
                headers={
                    "Accept": "application/json, text/event-stream",
                    "Authorization": f"Bearer {token('alice')}",
                },
            )
            session_id = opened.headers["mcp-session-id"]
            hijack = await http.post(
                served.url,
                json={"jsonrpc": "2.0", "id": 2, "method": "ping"},
                headers={
                    "Accept": "application/json, text/event-stream",
                    "Authorization": f"Bearer {token('eve')}",
                    "Mcp-Session-Id": session_id,
                    "Mcp-Protocol-Version": "2025-06-18",
                },
            )

    assert opened.status_code == 200
    assert hijack.status_code == 404


async def test_ending_the_session_drops_its_subscriptions(served: Served) -> None:
    async with connect(served.url, token("alice")) as session:
        await call(session, "register_context", {**document("x"), "name": "plan"})
        await session.subscribe_resource("context://agents/plan")
        assert served.endpoint.hub.sessions() == 1
    # The client ended its session (DELETE): its subscriptions went with it.
    for _ in range(int(TIMEOUT / 0.01)):
        if not served.endpoint.hub.sessions():
            break
        await asyncio.sleep(0.01)
    assert served.endpoint.hub.sessions() == 0
    # Its namespace's hub subscription went too, and the visibility cache stopped following.
    for _ in range(int(TIMEOUT / 0.01)):
        if not served.hub.subscriber_count() and not served.visibility.followers(NAMESPACE):
            break
        await asyncio.sleep(0.01)
    assert served.hub.subscriber_count() == 0
    assert served.visibility.followers(NAMESPACE) == 0


async def test_notifications_follow_the_subscribers_read_access(served: Served) -> None:
    """Bob is told of a change only while the latest version's ACL lets him read it."""
    updates: asyncio.Queue[str] = asyncio.Queue()
    plan = {**document("v1", ["subject:bob"]), "name": "plan"}
    async with (
        connect(served.url, token("alice")) as alice,
        connect(served.url, token("bob", [READ]), on_update=updates) as bob,
    ):
        await call(alice, "register_context", plan)
        await bob.subscribe_resource("context://agents/plan")

        # Alice takes Bob off the ACL (v2) and changes the content again (v3): nothing.
        await call(alice, "register_context", {**plan, "acl": {"readers": [], "writers": []}})
        await call(
            alice,
            "update_context",
            {"namespace": NAMESPACE, "name": "plan", "merge_patch": {"content": "hidden"}},
        )
        # A change of another context in the namespace, to know the hidden ones went by.
        await call(alice, "register_context", {**document("x", ["subject:bob"]), "name": "probe"})
        await bob.subscribe_resource("context://agents/probe")
        await call(
            alice,
            "update_context",
            {"namespace": NAMESPACE, "name": "probe", "merge_patch": {"content": "y"}},
        )
        async with asyncio.timeout(TIMEOUT):
            first = await updates.get()

        # Bob back on the ACL (v4): he is told, and may read what changed.
        await call(alice, "register_context", {**plan, "body": {**plan["body"], "content": "v4"}})
        async with asyncio.timeout(TIMEOUT):
            second = await updates.get()
        reread = await bob.read_resource(second)

    assert first == "context://agents/probe"  # nothing of plan v2 or v3 came before it
    assert second == "context://agents/plan"
    (contents,) = reread.contents
    assert isinstance(contents, types.TextResourceContents)
    assert contents.meta is not None
    assert contents.meta["version"] == 4
    assert updates.empty()


async def test_one_caller_past_its_limit_is_refused_and_others_are_not(served: Served) -> None:
    """Each watched namespace is a subscription of the shared hub, counted per caller."""
    async with connect(served.url, token("alice")) as alice:
        for index in range(PER_CALLER + 1):
            await call(
                alice,
                "register_context",
                {**document("x", ["subject:bob", "subject:carol"]), "namespace": f"ns-{index}"}
                | {"name": "plan"},
            )
    async with (
        connect(served.url, token("bob", [READ])) as bob,
        connect(served.url, token("carol", [READ])) as carol,
    ):
        for index in range(PER_CALLER):
            await bob.subscribe_resource(f"context://ns-{index}/plan")
        with pytest.raises(MCPError) as refused:
            await bob.subscribe_resource(f"context://ns-{PER_CALLER}/plan")
        await carol.subscribe_resource(f"context://ns-{PER_CALLER}/plan")
        assert served.hub.subscriber_count("bob") == PER_CALLER
        assert served.hub.subscriber_count("carol") == 1

    assert refused.value.error.data is not None
    assert refused.value.error.data["scope"] == "principal"
    assert refused.value.error.data["limit"] == PER_CALLER


async def test_unstorable_arguments_are_an_invalid_arguments_error(served: Served) -> None:
    """NUL in a body or label (PostgreSQL cannot store it: issue 12 saw the raw INSERT come
    back as the error) is refused as invalid arguments before anything is written."""
    async with connect(served.url, token("alice")) as session:
        in_body = await session.call_tool(
            "register_context", {**document("a\x00b"), "name": "nul-body"}
        )
        in_label = await session.call_tool(
            "register_context", {**document("ok"), "name": "nul-label", "labels": {"k": "\x00"}}
        )
        missing = await session.call_tool(
            "get_context", {"namespace": NAMESPACE, "name": "nul-body"}
        )
    for refused in (in_body, in_label):
        assert refused.is_error
        text = str(refused.structured_content or refused.content).lower()
        assert "nul" in text
        for internal in ("insert", "sqlalchemy", "traceback"):
            assert internal not in text
    assert missing.is_error
