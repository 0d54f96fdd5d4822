"""The MCP endpoint: `search_contexts` in both protocol eras, on the REST search's rules."""

from contextlib import AbstractAsyncContextManager
from typing import Any

import httpx
import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError

from search.tests.builders import bearer, indexed
from search.tests.mcp.conftest import TIMEOUT, Served
from slipway.mcp.testing import mcp_client

MODES = ["legacy", "2026-07-28"]


def connect(url: str, headers: dict[str, str], mode: str) -> AbstractAsyncContextManager[Client]:
    return mcp_client(url, headers=headers, mode=mode, read_timeout_seconds=TIMEOUT)


async def seed(served: Served) -> None:
    await served.index.put(indexed("runbook", "how to roll back a release", labels={"env": "prod"}))
    await served.index.put(
        indexed("secret", "roll back notes", owner="zed", readers=[], writers=[])
    )


async def call(client: Client, arguments: dict[str, Any]) -> tuple[bool, dict[str, Any]]:
    result = await client.call_tool("search_contexts", arguments)
    assert isinstance(result.structured_content, dict)
    return bool(result.is_error), result.structured_content


@pytest.mark.parametrize("mode", MODES)
async def test_one_tool_that_searches_what_the_caller_may_read(served: Served, mode: str) -> None:
    await seed(served)

    async with connect(served.mcp_url, bearer("bob"), mode) as client:
        tools = await client.list_tools()
        error, found = await call(client, {"query": "roll back"})
        _, filtered = await call(client, {"query": "roll", "labels": {"env": "dev"}})

    assert [tool.name for tool in tools.tools] == ["search_contexts"]
    assert tools.tools[0].annotations is not None
    assert tools.tools[0].annotations.read_only_hint
    assert not error
    assert [item["name"] for item in found["items"]] == ["runbook"]
    assert "<mark>roll</mark>" in found["items"][0]["snippet"]
    assert found["items"][0]["href"] == "/v1/contexts/team-a/runbook"
    assert filtered["items"] == []


@pytest.mark.parametrize("mode", MODES)
async def test_bad_arguments_are_tool_errors_with_a_problem(served: Served, mode: str) -> None:
    async with connect(served.mcp_url, bearer("bob"), mode) as client:
        outcomes = [
            await call(client, arguments)
            for arguments in (
                {},
                {"query": ""},
                {"query": "x", "limit": 1000},
                {"query": "x", "namespace": "Bad NS"},
                {"query": "x", "unexpected": 1},
                {"query": "x", "cursor": "tampered"},
                {"query": " ".join(["w"] * 40)},
            )
        ]

    for error, problem in outcomes:
        assert error, problem
        assert problem["status"] in (400, 422)
        assert problem["type"].startswith("urn:search:problem:")
        assert "Traceback" not in str(problem)
    assert outcomes[5][1]["code"] == "invalid-cursor"


async def test_an_unknown_tool_is_a_json_rpc_error(served: Served) -> None:
    async with connect(served.mcp_url, bearer("bob"), "2026-07-28") as client:
        with pytest.raises(MCPError) as raised:
            await client.call_tool("delete_everything", {})

    assert "unknown tool" in str(raised.value)


async def test_pages_through_the_tool(served: Served) -> None:
    for n in range(3):
        await served.index.put(indexed(f"doc-{n}", "deploy " * (n + 1)))

    names: list[str] = []
    async with connect(served.mcp_url, bearer("alice"), "2026-07-28") as client:
        _, first = await call(client, {"query": "deploy", "limit": 2})
        _, second = await call(
            client, {"query": "deploy", "limit": 2, "cursor": first["next_cursor"]}
        )
    names = [item["name"] for item in first["items"] + second["items"]]

    assert names == ["doc-2", "doc-1", "doc-0"]
    assert second["next_cursor"] is None


async def test_the_endpoint_needs_a_read_token_and_names_its_metadata(served: Served) -> None:
    async with httpx.AsyncClient(base_url=served.base_url) as http:
        anonymous = await http.post("/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "ping"})
        write_only = await http.post(
            "/mcp",
            json={"jsonrpc": "2.0", "id": 1, "method": "ping"},
            headers=bearer("alice", scopes=["contexts:write"]),
        )
        metadata = await http.get("/.well-known/oauth-protected-resource/mcp")

    assert anonymous.status_code == 401
    challenge = anonymous.headers["www-authenticate"]
    assert 'scope="contexts:read"' in challenge
    assert "/.well-known/oauth-protected-resource/mcp" in challenge
    assert write_only.status_code == 403
    assert metadata.status_code == 200
    assert metadata.json()["resource"] == f"{served.base_url}/mcp"
    assert "contexts:read" in metadata.json()["scopes_supported"]
