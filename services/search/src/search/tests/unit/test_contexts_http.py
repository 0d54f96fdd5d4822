"""contexts' API over slipway.http (`ContextsHttpSource`), on recorded responses: the
service token, 404 as gone, failures as `SourceUnavailable` after the client's retries, a
refused token replaced once, and the request id and trace context of an indexed event sent."""

from collections.abc import Callable
from typing import Any

import httpx
import jwt
import pytest
from opentelemetry import trace
from prometheus_client import CollectorRegistry

from search.adapters.contexts_http import (
    INDEX_SCOPES,
    ContextsHttpSource,
    DevelopmentTokenSource,
    context_path,
)
from search.adapters.indexing import traced_event
from search.domain.indexer import SourceUnavailable, parse_notice
from search.domain.model import ContextRef
from slipway.auth import BearerTokenAuth
from slipway.http import HttpClientSettings, ResilientClient, RetrySettings
from slipway.logging import current_request_id
from slipway.observability import configure_tracing

SECRET = "test-secret-for-contexts-dev-tokens-0123456789"  # noqa: S105 - a test secret
RUNBOOK = ContextRef("team-a", "runbook")
RECORDED = {  # contexts' GET /v1/contexts/team-a/runbook, as it answered
    "namespace": "team-a",
    "name": "runbook",
    "version": 2,
    "kind": "document",
    "schema_version": 1,
    "body": {"content": "# Runbook", "format": "markdown", "title": None},
    "labels": {"team": "a"},
    "owner": "alice",
    "acl": {"readers": ["subject:bob"], "writers": []},
    "deleted": False,
    "created_at": "2026-12-02T07:22:15.8Z",
    "updated_at": "2026-12-02T07:22:16.1Z",
    "updated_by": "alice",
    "etag": '"r2"',
}

Handler = Callable[[httpx.Request], httpx.Response]


def source_on(handler: Handler) -> tuple[ContextsHttpSource, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def recording(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return handler(request)

    tokens = DevelopmentTokenSource(
        SECRET, issuer="contexts-dev", audience="contexts", subject="search"
    )
    settings = HttpClientSettings(
        base_url="http://contexts.test",
        retry=RetrySettings(attempts=3, backoff_base=0, backoff_max=0),
    )
    client = ResilientClient(
        settings,
        name="contexts",
        registry=CollectorRegistry(),
        transport=httpx.MockTransport(recording),
        auth=BearerTokenAuth(tokens),
    )
    return ContextsHttpSource(client, page_size=2), seen


@pytest.fixture
async def started() -> Callable[[ContextsHttpSource], Any]:
    async def start(source: ContextsHttpSource) -> None:
        await source._client.start()

    return start


async def test_a_context_is_fetched_with_the_service_token(started: Any) -> None:
    source, seen = source_on(lambda request: httpx.Response(200, json=RECORDED))
    await started(source)
    assert await source.current(RUNBOOK) == RECORDED
    assert seen[0].url.path == context_path(RUNBOOK) == "/v1/contexts/team-a/runbook"
    token = seen[0].headers["authorization"].removeprefix("Bearer ")
    claims = jwt.decode(token, SECRET, algorithms=["HS256"], audience="contexts")
    assert claims["sub"] == "search"
    assert claims["scope"].split() == list(INDEX_SCOPES)


async def test_a_404_is_a_context_that_is_gone(started: Any) -> None:
    source, seen = source_on(lambda request: httpx.Response(404, json={"code": "not_found"}))
    await started(source)
    assert await source.current(RUNBOOK) is None
    assert len(seen) == 1  # not retried


async def test_failures_are_retried_then_unavailable(started: Any) -> None:
    source, seen = source_on(lambda request: httpx.Response(503))
    await started(source)
    with pytest.raises(SourceUnavailable):
        await source.current(RUNBOOK)
    assert len(seen) == 3  # the client's attempts

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    down, _ = source_on(refuse)
    await started(down)
    with pytest.raises(SourceUnavailable):
        await down.catalog(None)


async def test_a_refused_token_is_replaced_once(started: Any) -> None:
    answers = iter([httpx.Response(401), httpx.Response(200, json=RECORDED)])
    sent: list[str] = []  # the request object is re-sent: read its header as each try goes

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request.headers["authorization"])
        return next(answers)

    source, _ = source_on(answer)
    await started(source)
    assert await source.current(RUNBOOK) == RECORDED
    assert len(sent) == 2
    assert sent[0] != sent[1]


async def test_the_catalog_pages_with_limit_and_cursor(started: Any) -> None:
    def page(request: httpx.Request) -> httpx.Response:
        if "cursor" in request.url.params:
            return httpx.Response(200, json={"items": [RECORDED], "next_cursor": None})
        return httpx.Response(200, json={"items": [RECORDED, RECORDED], "next_cursor": "abc"})

    source, seen = source_on(page)
    await started(source)
    items, following = await source.catalog(None)
    assert (len(items), following) == (2, "abc")
    items, following = await source.catalog("abc")
    assert (len(items), following) == (1, None)
    assert [dict(request.url.params) for request in seen] == [
        {"limit": "2"},
        {"limit": "2", "cursor": "abc"},
    ]
    malformed, _ = source_on(lambda request: httpx.Response(200, json={"items": "no"}))
    await started(malformed)
    with pytest.raises(SourceUnavailable):
        await malformed.catalog(None)


async def test_an_indexed_events_request_id_and_trace_reach_contexts(started: Any) -> None:
    configure_tracing(service="search", version="test", environment="test", otlp_endpoint=None)
    source, seen = source_on(lambda request: httpx.Response(200, json=RECORDED))
    await started(source)
    notice = parse_notice(
        {
            "type": "context.changed",
            "event_id": "e-1",
            "namespace": "team-a",
            "name": "runbook",
            "version": 2,
            "action": "updated",
            "occurred_at": "2026-12-02T07:22:16.1+00:00",
        }
    )
    assert notice is not None
    async with traced_event(notice):
        request_id = current_request_id()
        trace_id = trace.get_current_span().get_span_context().trace_id
        await source.current(RUNBOOK)
    assert current_request_id() is None  # unbound after the event
    assert request_id is not None
    assert seen[0].headers["x-request-id"] == request_id
    assert seen[0].headers["traceparent"].split("-")[1] == f"{trace_id:032x}"
