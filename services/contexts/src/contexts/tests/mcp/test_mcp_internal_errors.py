"""An unexpected failure behind the MCP endpoint: a generic -32603 to the client, in both
eras, with the request id; the details only in the logs.

Issue 12 saw a raw database error reach a client (code 0, its message the INSERT). Here the
registry fails with a message of that kind, and nothing of it may reach the wire.
"""

import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from mcp import types
from mcp.shared.exceptions import MCPError

from contexts.domain.service import ContextRegistry
from contexts.settings import Settings
from contexts.tests.mcp.harness import (
    LEGACY,
    MODERN,
    NAMESPACE,
    TIMEOUT,
    Served,
    answer_of,
    connect,
    document,
    modern_post,
    serve,
    token,
)

INTERNALS = "SELECT secret FROM contexts WHERE password = 'hunter2'"
REQUEST_ID = "req-internal-error-1"


class FailingRegistry(ContextRegistry):
    """A registry whose storage breaks: every list and put raises with internals."""

    async def list(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError(INTERNALS)

    async def put(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError(INTERNALS)


@pytest.fixture
async def served(settings: Settings) -> AsyncIterator[Served]:
    """The app on uvicorn with the failing registry, until the test ends."""
    async with serve(settings, FailingRegistry) as served:
        yield served


def assert_generic(error: MCPError) -> None:
    assert error.code == types.INTERNAL_ERROR == -32603
    assert error.message == "Internal error"
    assert error.error.data == {"request_id": REQUEST_ID}
    assert "secret" not in repr(error.error).lower()


@pytest.mark.parametrize("mode", [LEGACY, MODERN])
async def test_an_internal_error_is_generic_on_the_wire_and_detailed_in_the_logs(
    served: Served, mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="contexts.mcp")
    async with connect(
        served.url, token("alice"), mode, headers={"X-Request-ID": REQUEST_ID}
    ) as client:
        with pytest.raises(MCPError) as listing:
            await client.list_resources()
        with pytest.raises(MCPError) as calling:
            await client.call_tool("register_context", {**document("x"), "name": "plan"})
        # Domain errors keep their own codes.
        with pytest.raises(MCPError) as missing:
            await client.read_resource("context://agents/missing")

    assert_generic(listing.value)
    assert_generic(calling.value)
    assert missing.value.code == -32002
    logged = [record for record in caplog.records if record.name == "contexts.mcp.server"]
    assert logged, caplog.text
    assert all(REQUEST_ID in record.getMessage() for record in logged)
    assert INTERNALS in caplog.text  # the details, with the traceback, are in the logs


async def test_the_raw_modern_answer_carries_nothing_of_the_failure(served: Served) -> None:
    async with httpx.AsyncClient(timeout=TIMEOUT) as http:
        response = await http.post(
            served.url,
            **modern_post(
                "tools/call",
                {"name": "list_contexts", "arguments": {"namespace": NAMESPACE}},
                request_id=7,
                headers={"Mcp-Name": "list_contexts", "X-Request-ID": REQUEST_ID},
            ),
        )

    assert "secret" not in response.text.lower()
    assert "Traceback" not in response.text
    body = answer_of(response)
    assert body["id"] == 7
    assert body["error"] == {
        "code": -32603,
        "message": "Internal error",
        "data": {"request_id": REQUEST_ID},
    }
    assert response.headers["x-request-id"] == REQUEST_ID
