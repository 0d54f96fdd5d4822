"""`McpEndpoint` served by uvicorn in a slipway.web app, driven by the SDK's own client in both
protocol eras: the gate, the caller in the handlers, `InternalErrors`, start and stop."""

import logging
from collections.abc import AsyncIterator, Iterable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from mcp import Client, types
from mcp.server import Server, ServerRequestContext
from mcp.shared.exceptions import MCPError
from pydantic import SecretStr
from starlette.types import ASGIApp

from slipway.auth import Authenticator, AuthSettings, Principal, build_authenticator
from slipway.auth.testing import hs256_signing_key, mint_token
from slipway.config import Environment, ServiceSettings
from slipway.mcp import InternalErrors, McpEndpoint, caller_of_context, mcp_gate
from slipway.mcp.testing import mcp_client
from slipway.web import ServiceParts, WebSettings, create_app
from slipway.web.testing.server import serving

SECRET = "a development secret of at least thirty-two bytes"  # noqa: S105 - test-only
ISSUER = "https://auth.example.com/"
AUDIENCE = "billing"
READ = "billing:read"
STATE_KEY = "billing.mcp.caller"
TIMEOUT = 5.0
MODES = ["legacy", "2026-07-28"]
INTERNALS = "SELECT card FROM cards WHERE pin = '1234'"
REQUEST_ID = "req-billing-1"
LOGGER = "billing.mcp.server"


@dataclass(frozen=True)
class Caller:
    """The service's view of a verified caller."""

    subject: str


class Settings(ServiceSettings):
    web: WebSettings = WebSettings()
    auth: AuthSettings = AuthSettings(
        issuer=ISSUER, audience=AUDIENCE, algorithms=("HS256",), hs256_secret=SecretStr(SECRET)
    )


def token(subject: str, scopes: Iterable[str] = (READ,)) -> str:
    return mint_token(
        hs256_signing_key(SECRET),
        issuer=ISSUER,
        audience=AUDIENCE,
        subject=subject,
        scopes=list(scopes),
    )


async def list_tools(
    ctx: ServerRequestContext[Any, Any], params: types.PaginatedRequestParams | None
) -> types.ListToolsResult:
    caller_of_context(ctx, STATE_KEY, Caller)
    schema = {"type": "object", "properties": {}}
    return types.ListToolsResult(
        tools=[
            types.Tool(name="whoami", input_schema=schema),
            types.Tool(name="fail", input_schema=schema),
        ]
    )


async def call_tool(
    ctx: ServerRequestContext[Any, Any], params: types.CallToolRequestParams
) -> types.CallToolResult:
    caller = caller_of_context(ctx, STATE_KEY, Caller)
    if params.name == "fail":
        raise RuntimeError(INTERNALS)
    if params.name != "whoami":
        raise MCPError(types.INVALID_PARAMS, f"unknown tool: {params.name}")
    return types.CallToolResult(
        content=[types.TextContent(text=caller.subject)],
        structured_content={"subject": caller.subject},
    )


class Endpoint(McpEndpoint):
    """The endpoint with a `closing` that records when it ran."""

    closed_while_serving: bool | None = None

    async def closing(self) -> None:
        self.closed_while_serving = self._task is not None and not self._task.done()


def endpoint_of(authenticator: Authenticator, *, stateless: bool) -> Endpoint:
    server: Server[Any] = Server("billing", on_list_tools=list_tools, on_call_tool=call_tool)
    server.middleware.append(InternalErrors(logging.getLogger(LOGGER)))

    def gate(app: ASGIApp) -> ASGIApp:
        def caller_of(principal: Principal) -> Caller:
            return Caller(principal.subject)

        return mcp_gate(
            app, authenticator, caller_of=caller_of, state_key=STATE_KEY, required=(READ,)
        )

    return Endpoint(server, gate, stateless=stateless, json_response=stateless)


@dataclass
class Served:
    url: str
    endpoint: Endpoint


@asynccontextmanager
async def serve(*, stateless: bool) -> AsyncIterator[Served]:
    """A slipway.web app with the endpoint at /mcp on uvicorn, on a free port, until the end."""
    settings = Settings(environment=Environment.TEST)
    authenticator = build_authenticator(settings.auth, environment=settings.environment)
    endpoint = endpoint_of(authenticator, stateless=stateless)
    app = create_app(
        settings,
        ServiceParts(resources=[endpoint], auth=authenticator, mounts=[endpoint.mount()]),
        configure_logs=False,
    )
    async with serving(app, started_within=TIMEOUT, stopped_within=TIMEOUT) as running:
        yield Served(f"{running.url}/mcp", endpoint)


def connect(url: str, bearer: str, mode: str) -> AbstractAsyncContextManager[Client]:
    headers = {"Authorization": f"Bearer {bearer}", "X-Request-ID": REQUEST_ID}
    return mcp_client(url, headers=headers, mode=mode, read_timeout_seconds=TIMEOUT)


@pytest.mark.parametrize("stateless", [False, True])
@pytest.mark.parametrize("mode", MODES)
async def test_handlers_see_the_caller_the_gate_admitted(stateless: bool, mode: str) -> None:
    async with (
        serve(stateless=stateless) as served,
        connect(served.url, token("alice"), mode) as client,
    ):
        tools = await client.list_tools()
        result = await client.call_tool("whoami", {})

    assert [tool.name for tool in tools.tools] == ["whoami", "fail"]
    assert not result.is_error
    assert result.structured_content == {"subject": "alice"}


@pytest.mark.parametrize("mode", MODES)
async def test_an_internal_error_is_generic_on_the_wire_and_detailed_in_the_logs(
    mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger=LOGGER)
    async with (
        serve(stateless=False) as served,
        connect(served.url, token("alice"), mode) as client,
    ):
        with pytest.raises(MCPError) as failed:
            await client.call_tool("fail", {})
        with pytest.raises(MCPError) as unknown:
            await client.call_tool("nothing", {})

    assert failed.value.code == types.INTERNAL_ERROR
    assert failed.value.message == "Internal error"
    assert failed.value.error.data == {"request_id": REQUEST_ID}
    assert "card" not in repr(failed.value.error)
    assert unknown.value.code == types.INVALID_PARAMS  # an MCPError passes through
    logged = [record for record in caplog.records if record.name == LOGGER]
    assert logged, caplog.text
    assert all(REQUEST_ID in record.getMessage() for record in logged)
    assert INTERNALS in caplog.text


async def test_the_gate_refuses_a_missing_or_insufficient_token() -> None:
    ping = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
    async with (
        serve(stateless=True) as served,
        httpx.AsyncClient(timeout=TIMEOUT) as http,
    ):
        anonymous = await http.post(served.url, json=ping)
        write_only = await http.post(
            served.url,
            json=ping,
            headers={"Authorization": f"Bearer {token('alice', ['billing:write'])}"},
        )

    assert anonymous.status_code == 401
    assert anonymous.headers["content-type"].startswith("application/problem+json")
    assert f'scope="{READ}"' in anonymous.headers["www-authenticate"]
    assert write_only.status_code == 403


async def test_before_start_and_after_stop_the_endpoint_answers_503() -> None:
    settings = Settings(environment=Environment.TEST)
    authenticator = build_authenticator(settings.auth, environment=settings.environment)
    endpoint = endpoint_of(authenticator, stateless=True)
    transport = httpx.ASGITransport(app=endpoint.asgi_app)
    headers = {"Authorization": f"Bearer {token('alice')}"}
    ping = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        before = await http.post("/mcp", json=ping, headers=headers)
        await endpoint.start()
        await endpoint.stop()
        closed_while_serving = endpoint.closed_while_serving
        after = await http.post("/mcp", json=ping, headers=headers)
        await endpoint.stop()  # stopping twice is harmless

    for response in (before, after):
        assert response.status_code == 503
        assert response.headers["content-type"].startswith("application/problem+json")
    assert closed_while_serving is True
    assert endpoint.closed_while_serving is False  # the second stop: nothing left running


async def test_closing_runs_before_the_session_manager_stops() -> None:
    async with serve(stateless=False) as served:
        endpoint = served.endpoint
    assert endpoint.closed_while_serving is True


def test_the_endpoint_mounts_at_its_path_exactly() -> None:
    settings = Settings(environment=Environment.TEST)
    authenticator = build_authenticator(settings.auth, environment=settings.environment)
    mount = endpoint_of(authenticator, stateless=True).mount()

    assert (mount.path, mount.name, mount.exact) == ("/mcp", "mcp", True)
