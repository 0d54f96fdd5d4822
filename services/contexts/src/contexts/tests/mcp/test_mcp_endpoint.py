"""The MCP endpoint, driven by the MCP SDK's own low-level `ClientSession` over Streamable HTTP.

The app is `harness.serve`'s: the endpoint at /mcp, the registry on the domain's in-memory
fakes, slipway.events' in-memory stream fed from their outbox and read by one `StreamHub`, real
HS256 tokens, served by uvicorn on a free port of 127.0.0.1.
"""

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from mcp import ClientSession, types
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp.shared.exceptions import MCPError

from contexts.tests.mcp.harness import (
    NAMESPACE,
    PER_CALLER,
    READ,
    TIMEOUT,
    TOOLS,
    Served,
    assert_refused_past_the_limit,
    call,
    document,
    register_plans,
    token,
    update,
)

# resources/subscribe is the handshake era's (up to 2025-11-25), which this endpoint serves.
pytestmark = pytest.mark.filterwarnings("ignore:resources/.*subscribe is removed")


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
    assert {tool.name for tool in tools.tools} == TOOLS
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

        await update(writer, "other", "y")
        await update(writer, "plan", "v2")
        async with asyncio.timeout(TIMEOUT):
            first = await updates.get()
        reread = await watcher.read_resource(first)

        await watcher.unsubscribe_resource("context://agents/plan")
        await update(writer, "plan", "v3")
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
        await update(alice, "plan", "hidden")
        # A change of another context in the namespace, to know the hidden ones went by.
        await call(alice, "register_context", {**document("x", ["subject:bob"]), "name": "probe"})
        await bob.subscribe_resource("context://agents/probe")
        await update(alice, "probe", "y")
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
        await register_plans(alice, PER_CALLER + 1)
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

    assert_refused_past_the_limit(refused.value)


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


async def test_an_integer_beyond_i_json_range_is_an_invalid_arguments_error(
    served: Served,
) -> None:
    """An integer beyond +-(2**53 - 1) in a body (issue 12: stored, then every answer showing
    the context failed to encode) is refused as invalid arguments; nothing is written."""
    huge = {**document("ok"), "name": "huge", "kind": "config", "schema_version": 1}
    async with connect(served.url, token("alice")) as session:
        refused = await session.call_tool(
            "register_context", {**huge, "body": {"x": 999999999999999999999999999999}}
        )
        missing = await session.call_tool("get_context", {"namespace": NAMESPACE, "name": "huge"})
    assert refused.is_error
    text = str(refused.structured_content or refused.content)
    assert "RFC 7493" in text
    for internal in ("insert", "sqlalchemy", "traceback", "64-bit"):
        assert internal not in text.lower()
    assert missing.is_error
