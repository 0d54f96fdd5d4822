"""The MCP endpoint on both protocol eras: 2025-11-25 sessions and 2026-07-28 stateless.

Driven by the SDK's own `Client` (see `harness`), and by raw HTTP where the wire itself is
the point (no session, the `Mcp-Method` / `Mcp-Name` header checks).
"""

import asyncio
import json
from typing import Any

import httpx
import pytest
from mcp import types
from mcp.client.subscriptions import ResourceUpdated, Subscription
from mcp.shared.exceptions import MCPError

from contexts.tests.mcp.harness import (
    LEGACY,
    MODERN,
    NAMESPACE,
    PER_CALLER,
    READ,
    TIMEOUT,
    TOOLS,
    Served,
    answer_of,
    assert_refused_past_the_limit,
    call,
    connect,
    document,
    modern_post,
    register_plans,
    token,
    update,
)

# resources/subscribe is the handshake era's; the SDK warns when it is used.
pytestmark = pytest.mark.filterwarnings("ignore:resources/.*subscribe is removed")


async def next_update(subscription: Subscription) -> str:
    """The URI of the next event of a listen stream (which must come within TIMEOUT)."""
    async with asyncio.timeout(TIMEOUT):
        event = await anext(aiter(subscription))
    assert isinstance(event, ResourceUpdated), event
    return event.uri


async def test_auto_mode_discovers_the_modern_era(served: Served) -> None:
    async with connect(served.url, token("alice"), "auto") as client:
        version = client.protocol_version
        capabilities = client.server_capabilities
        instructions = client.instructions
        tools = await client.list_tools()
        templates = await client.list_resource_templates()

    assert version == MODERN
    assert capabilities.resources is not None
    assert capabilities.resources.subscribe is True  # via subscriptions/listen
    assert capabilities.tools is not None
    assert instructions is not None
    assert "context://" in instructions
    assert {tool.name for tool in tools.tools} == TOOLS
    assert [t.uri_template for t in templates.resource_templates] == [
        "context://{namespace}/{name}"
    ]


async def test_legacy_clients_still_initialize_a_session(served: Served) -> None:
    async with connect(served.url, token("alice"), LEGACY) as client:
        version = client.protocol_version
        capabilities = client.server_capabilities

    assert version == "2025-11-25"
    assert capabilities.resources is not None
    assert capabilities.resources.subscribe is True


@pytest.mark.parametrize("mode", [LEGACY, MODERN])
async def test_resources_and_tools_in_both_eras(served: Served, mode: str) -> None:
    async with connect(served.url, token("alice"), mode) as alice:
        plan = await call(alice, "register_context", {**document("hello"), "name": "plan"})
        await call(alice, "register_context", {**document("notes"), "name": "notes"})
        stale = await alice.call_tool(
            "update_context",
            {
                "namespace": NAMESPACE,
                "name": "plan",
                "merge_patch": {"content": "x"},
                "if_match": '"not-the-etag"',
            },
        )
        listed = await alice.list_resources()
        read = await alice.read_resource("context://agents/plan")
    async with connect(served.url, token("bob"), mode) as bob:
        hidden = await bob.list_resources()
        with pytest.raises(MCPError) as unreadable:
            await bob.read_resource("context://agents/plan")
        with pytest.raises(MCPError) as missing:
            await bob.read_resource("context://agents/missing")

    assert [resource.uri for resource in listed.resources] == [
        "context://agents/notes",
        "context://agents/plan",
    ]
    (contents,) = read.contents
    assert isinstance(contents, types.TextResourceContents)
    assert json.loads(contents.text)["content"] == "hello"
    assert contents.meta is not None
    assert (contents.meta["version"], contents.meta["etag"]) == (1, plan["etag"])
    assert stale.is_error
    assert stale.structured_content is not None
    assert stale.structured_content["status"] == 412
    assert hidden.resources == []
    assert unreadable.value.code == missing.value.code == -32002
    assert unreadable.value.message == missing.value.message == "Resource not found"


async def test_a_modern_request_is_a_self_contained_post(served: Served) -> None:
    """No initialize and no session: one POST, one answer."""
    async with httpx.AsyncClient(timeout=TIMEOUT) as http:
        discovered = await http.post(served.url, **modern_post("server/discover", {}))
        listed = await http.post(served.url, **modern_post("tools/list", {}))
        called = await http.post(
            served.url,
            **modern_post(
                "tools/call",
                {"name": "list_contexts", "arguments": {"namespace": NAMESPACE}},
                headers={"Mcp-Name": "list_contexts"},
            ),
        )

    for response in (discovered, listed, called):
        assert response.status_code == 200
        assert "mcp-session-id" not in response.headers
    assert MODERN in answer_of(discovered)["result"]["supportedVersions"]
    assert len(answer_of(listed)["result"]["tools"]) == 5
    assert answer_of(called)["result"]["structuredContent"]["items"] == []


@pytest.mark.parametrize(
    ("method", "params", "headers"),
    [
        ("tools/list", {}, {"Mcp-Method": "resources/list"}),
        (
            "tools/call",
            {"name": "list_contexts", "arguments": {"namespace": NAMESPACE}},
            {"Mcp-Name": "delete_context"},
        ),
        ("resources/read", {"uri": "context://agents/plan"}, {"Mcp-Name": "context://agents/x"}),
    ],
)
async def test_routing_headers_must_match_the_body(
    served: Served, method: str, params: dict[str, Any], headers: dict[str, str]
) -> None:
    async with httpx.AsyncClient(timeout=TIMEOUT) as http:
        response = await http.post(served.url, **modern_post(method, params, headers=headers))

    assert response.status_code == 400
    assert answer_of(response)["error"]["code"] == types.HEADER_MISMATCH


async def test_resources_subscribe_is_not_a_modern_method(served: Served) -> None:
    async with httpx.AsyncClient(timeout=TIMEOUT) as http:
        response = await http.post(
            served.url,
            **modern_post(
                "resources/subscribe",
                {"uri": "context://agents/plan"},
                headers={"Mcp-Name": "context://agents/plan"},
            ),
        )

    assert answer_of(response)["error"]["code"] == types.METHOD_NOT_FOUND


async def test_listen_delivers_changes_of_the_listed_contexts(served: Served) -> None:
    async with (
        connect(served.url, token("alice")) as alice,
        connect(served.url, token("bob", [READ])) as bob,
    ):
        await call(alice, "register_context", {**document("v1", ["subject:bob"]), "name": "plan"})
        await call(alice, "register_context", {**document("x", ["subject:bob"]), "name": "other"})
        async with bob.listen(
            resource_subscriptions=["context://agents/plan"], tools_list_changed=True
        ) as subscription:
            honored = subscription.honored
            await update(alice, "other", "y")
            await update(alice, "plan", "v2")
            first = await next_update(subscription)
            reread = await bob.read_resource(first)
            assert served.hub.subscriber_count("bob") == 1
        # The stream ended: its hub subscription went with it.
        for _ in range(int(TIMEOUT / 0.01)):
            if not served.hub.subscriber_count() and not served.endpoint.hub.sessions():
                break
            await asyncio.sleep(0.01)

    assert honored.resource_subscriptions == ["context://agents/plan"]
    assert not honored.tools_list_changed  # tools never change here: not promised
    assert first == "context://agents/plan"  # nothing for "other" came before it
    (contents,) = reread.contents
    assert isinstance(contents, types.TextResourceContents)
    assert contents.meta is not None
    assert contents.meta["version"] == 2
    assert served.hub.subscriber_count() == 0
    assert served.endpoint.hub.sessions() == 0


async def test_listen_follows_the_listeners_read_access(served: Served) -> None:
    """Bob is told of a change only while the latest version's ACL lets him read it; a
    context he cannot read (or that does not exist) reveals nothing."""
    plan = {**document("v1", ["subject:bob"]), "name": "plan"}
    async with (
        connect(served.url, token("alice")) as alice,
        connect(served.url, token("bob", [READ])) as bob,
    ):
        await call(alice, "register_context", plan)
        await call(alice, "register_context", {**document("secret"), "name": "private"})
        await call(alice, "register_context", {**document("x", ["subject:bob"]), "name": "probe"})
        async with bob.listen(
            resource_subscriptions=[
                "context://agents/plan",
                "context://agents/private",
                "context://agents/probe",
            ]
        ) as subscription:
            # Private changes; Bob is taken off plan's ACL (v2), which changes again (v3).
            await update(alice, "private", "s2")
            await call(alice, "register_context", {**plan, "acl": {"readers": [], "writers": []}})
            await update(alice, "plan", "hidden")
            # A change Bob may see, to know the hidden ones went by.
            await update(alice, "probe", "y")
            first = await next_update(subscription)
            # Bob back on the ACL (v4): he is told, and may read what changed.
            await call(
                alice, "register_context", {**plan, "body": {**plan["body"], "content": "v4"}}
            )
            second = await next_update(subscription)
            reread = await bob.read_resource(second)

    assert first == "context://agents/probe"  # nothing of private, plan v2 or v3 before it
    assert second == "context://agents/plan"
    (contents,) = reread.contents
    assert isinstance(contents, types.TextResourceContents)
    assert contents.meta is not None
    assert contents.meta["version"] == 4


async def test_listen_counts_against_the_callers_limit(served: Served) -> None:
    """Each namespace a listen stream watches is a subscription of the shared hub, counted
    per caller like legacy subscriptions and event streams."""
    async with connect(served.url, token("alice")) as alice:
        await register_plans(alice, PER_CALLER + 1)
    async with (
        connect(served.url, token("bob", [READ])) as bob,
        connect(served.url, token("carol", [READ])) as carol,
    ):
        within = [f"context://ns-{index}/plan" for index in range(PER_CALLER)]
        async with bob.listen(resource_subscriptions=within):
            with pytest.raises(MCPError) as refused:
                async with bob.listen(resource_subscriptions=[f"context://ns-{PER_CALLER}/plan"]):
                    pass
            async with carol.listen(resource_subscriptions=[f"context://ns-{PER_CALLER}/plan"]):
                assert served.hub.subscriber_count("bob") == PER_CALLER
                assert served.hub.subscriber_count("carol") == 1

    assert_refused_past_the_limit(refused.value)


async def test_listen_refuses_what_is_not_a_context_uri(served: Served) -> None:
    async with connect(served.url, token("bob", [READ])) as bob:
        with pytest.raises(MCPError) as refused:
            async with bob.listen(resource_subscriptions=["file:///etc/passwd"]):
                pass

    assert refused.value.code == types.INVALID_PARAMS
    assert served.hub.subscriber_count() == 0


async def test_both_eras_are_told_of_the_same_change(served: Served) -> None:
    legacy_updates: asyncio.Queue[str] = asyncio.Queue()

    def on_message(message: object) -> None:
        if isinstance(message, types.ResourceUpdatedNotification):
            legacy_updates.put_nowait(str(message.params.uri))

    async with (
        connect(served.url, token("alice")) as alice,
        connect(served.url, token("bob", [READ]), LEGACY, on_message=on_message) as legacy,
        connect(served.url, token("carol", [READ])) as modern,
    ):
        plan = {**document("v1", ["subject:bob", "subject:carol"]), "name": "plan"}
        await call(alice, "register_context", plan)
        await legacy.subscribe_resource("context://agents/plan")
        async with modern.listen(resource_subscriptions=["context://agents/plan"]) as subscription:
            await update(alice, "plan", "v2")
            told_modern = await next_update(subscription)
            async with asyncio.timeout(TIMEOUT):
                told_legacy = await legacy_updates.get()

    assert told_modern == told_legacy == "context://agents/plan"


async def test_closing_the_endpoint_ends_listen_streams_gracefully(served: Served) -> None:
    async with (
        connect(served.url, token("alice")) as alice,
        connect(served.url, token("bob", [READ])) as bob,
    ):
        await call(alice, "register_context", {**document("v1", ["subject:bob"]), "name": "plan"})
        async with bob.listen(resource_subscriptions=["context://agents/plan"]) as subscription:
            assert served.endpoint.handlers is not None
            served.endpoint.handlers.close_listeners()
            async with asyncio.timeout(TIMEOUT):
                events = [event async for event in subscription]  # ends, not lost

    assert events == []
    for _ in range(int(TIMEOUT / 0.01)):
        if not served.hub.subscriber_count():
            break
        await asyncio.sleep(0.01)
    assert served.hub.subscriber_count() == 0
