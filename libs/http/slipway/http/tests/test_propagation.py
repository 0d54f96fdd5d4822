"""Request id and trace context on every outgoing request; the client as a web Resource."""

import sys
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import httpx
import pytest
from opentelemetry.sdk.trace import TracerProvider

from slipway.http import (
    ResilientClient,
    UpstreamReadinessCheck,
    UpstreamStatusError,
)
from slipway.http.tests.upstream_server import FailingUpstream
from slipway.logging import RequestIdMiddleware
from slipway.web import Lifecycle, ReadinessCheck, Resource

MakeClient = Callable[..., Awaitable[ResilientClient]]


async def within_request(
    request_id: str, call: Callable[[], Awaitable[httpx.Response]]
) -> httpx.Response:
    """Run `call` the way a handler would: inside RequestIdMiddleware with `request_id`."""
    result: dict[str, httpx.Response] = {}

    async def handler(scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        result["response"] = await call()

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: MutableMapping[str, Any]) -> None:
        return None

    scope = {"type": "http", "headers": [(b"x-request-id", request_id.encode())]}
    await RequestIdMiddleware(handler)(scope, receive, send)
    return result["response"]


async def test_request_id_and_traceparent_reach_the_upstream(make_client: MakeClient) -> None:
    client = await make_client()
    tracer = TracerProvider().get_tracer("slipway.http.tests")

    with tracer.start_as_current_span("handler") as span:
        echoed = (await within_request("req-42", lambda: client.get("/echo"))).json()
        context = span.get_span_context()

    headers = echoed["headers"]
    assert headers["x-request-id"] == "req-42"
    assert (
        headers["traceparent"]
        == f"00-{context.trace_id:032x}-{context.span_id:016x}-{context.trace_flags:02x}"
    )


async def test_every_retry_carries_the_request_id(
    make_client: MakeClient, upstream: FailingUpstream, key: str
) -> None:
    client = await make_client()
    await within_request("req-retried", lambda: client.get(f"/fail/{key}", params={"times": 2}))
    assert upstream.hits.request_ids[key] == ["req-retried"] * 3


async def test_an_explicit_request_id_wins(make_client: MakeClient) -> None:
    client = await make_client()
    response = await within_request(
        "from-context", lambda: client.get("/echo", headers={"X-Request-ID": "explicit"})
    )
    echoed = response.json()
    assert echoed["headers"]["x-request-id"] == "explicit"


async def test_no_request_id_outside_a_request(make_client: MakeClient) -> None:
    client = await make_client()
    echoed = (await client.get("/echo")).json()
    assert echoed["headers"]["x-request-id"] is None
    assert echoed["headers"]["traceparent"] is None  # no active span, nothing to propagate


def test_the_package_does_not_shadow_the_stdlib_http() -> None:
    import http.client

    import slipway.http

    assert http.client.HTTPConnection.__module__ == "http.client"
    assert sys.modules["http"].__file__ != slipway.http.__file__


async def test_client_is_a_web_resource(upstream: FailingUpstream, registry: Any) -> None:
    from slipway.http import HttpClientSettings

    client = ResilientClient(
        HttpClientSettings(base_url=upstream.base_url), name="echo", registry=registry
    )
    assert isinstance(client, Resource)
    with pytest.raises(RuntimeError, match="not started"):
        await client.get("/echo")

    async with Lifecycle([client]).running():
        assert (await client.get("/echo")).status_code == 200
    with pytest.raises(RuntimeError, match="not started"):
        await client.get("/echo")


async def test_upstream_readiness_check(make_client: MakeClient, upstream: FailingUpstream) -> None:
    client = await make_client(raise_for_status=False, retry={"attempts": 1})
    healthy = UpstreamReadinessCheck(client, "/echo")
    failing = UpstreamReadinessCheck(client, "/status/503")
    assert isinstance(healthy, ReadinessCheck)
    assert healthy.name == "http-client:/echo"

    await healthy()
    with pytest.raises(UpstreamStatusError):
        await failing()
