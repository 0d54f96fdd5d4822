"""GET /v1/events over a real uvicorn server (httpx's ASGITransport buffers streams): events
in order, resuming after Last-Event-ID, heartbeats, authorization, disconnect and shutdown.

The router on slipway.events' in-memory stream and `StreamHub`, every event visible to the
reader (it owns them all); ACL filtering and limits on the whole service are in
test_events_acl.py."""

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx
import pytest
import uvicorn
from fastapi import FastAPI, HTTPException, Request

from contexts.adapters.sql.outbox import as_event
from contexts.api.events import events_router
from contexts.domain.events import ChangeAction, ContextAccess, ContextChanged
from contexts.domain.model import Acl, Actor, ContextKey
from contexts.events.visibility import EventVisibility
from contexts.tests.api.sse_support import serving, until
from slipway.events import FanoutSettings, InMemoryEventStream, StreamHub
from slipway.web.problems import install_problem_handlers

READER = Actor(subject="reader", scopes=frozenset({"contexts:read"}))


class OwnedByTheReader:
    """The AccessLookup port for these tests: the reader owns every context."""

    async def access_of(self, key: ContextKey) -> ContextAccess:
        return ContextAccess(version=1_000_000, owner=READER.subject, acl=Acl())


def changed(name: str, version: int = 1, namespace: str = "ns") -> ContextChanged:
    return ContextChanged(
        event_id=uuid.uuid4(),
        namespace=namespace,
        name=name,
        version=version,
        action=ChangeAction.CREATED if version == 1 else ChangeAction.UPDATED,
        etag=f'"{name}-{version}"',
        occurred_at=datetime.now(UTC),
        actor="subject:test",
    )


@dataclass
class Sse:
    """One server-sent event (or a comment-only block), as a client parses it."""

    id: str | None = None
    event: str | None = None
    data: list[str] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)
    retry: str | None = None

    def json(self) -> object:
        return json.loads("\n".join(self.data))


async def sse_blocks(response: httpx.Response) -> AsyncIterator[Sse]:
    block = Sse()
    async for line in response.aiter_lines():
        if not line:
            yield block
            block = Sse()
        elif line.startswith(":"):
            block.comments.append(line[1:].strip())
        else:
            key, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if key == "data":
                block.data.append(value)
            elif key in ("id", "event", "retry"):
                setattr(block, key, value)


async def next_events(blocks: AsyncIterator[Sse], count: int, within: float = 5) -> list[Sse]:
    events: list[Sse] = []
    async with asyncio.timeout(within):
        async for block in blocks:
            if block.event is not None:
                events.append(block)
                if len(events) == count:
                    break
    return events


@dataclass
class Served:
    url: str
    stream: InMemoryEventStream
    hub: StreamHub
    visibility: EventVisibility
    server: uvicorn.Server
    task: "asyncio.Task[None]"
    authorized: list[str]


@pytest.fixture
async def served() -> AsyncIterator[Served]:
    stream = InMemoryEventStream()
    hub = StreamHub(stream, FanoutSettings(heartbeat_seconds=0.2, read_block_ms=100))
    await hub.start()
    authorized: list[str] = []

    async def authorize(request: Request) -> Actor:
        namespace = request.query_params.get("namespace", "")
        if namespace == "secret":
            raise HTTPException(403, "not for you")
        authorized.append(namespace)
        return READER

    app = FastAPI()
    install_problem_handlers(app)
    visibility = EventVisibility(OwnedByTheReader())
    app.include_router(events_router(hub, visibility, authorize))
    async with serving(app) as running:
        yield Served(running.url, stream, hub, visibility, running.server, running.task, authorized)
    await hub.stop()


async def test_events_arrive_in_order_history_first_then_live(
    served: Served, http: httpx.AsyncClient
) -> None:
    before = [changed("a"), changed("b"), changed("other", namespace="elsewhere")]
    await served.stream.publish([as_event(event) for event in before])

    url = f"{served.url}/v1/events"
    async with http.stream("GET", url, params={"namespace": "ns"}) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["cache-control"] == "no-store"
        blocks = sse_blocks(response)
        history = await next_events(blocks, 2)
        after = [changed("a", 2), changed("c")]
        await served.stream.publish([as_event(event) for event in after])
        live = await next_events(blocks, 2)

    kept = await served.stream.read("ns", after=None, limit=10, block_ms=0)
    received = history + live
    assert [sse.id for sse in received] == [entry.entry_id for entry in kept]
    assert {sse.event for sse in received} == {"context.changed"}
    expected = [before[0], before[1], *after]
    assert [sse.json() for sse in received] == [event.to_json_dict() for event in expected]
    assert served.authorized == ["ns"]


@pytest.mark.parametrize("how", ["header", "query"])
async def test_a_client_resumes_after_the_last_event_id(
    served: Served, http: httpx.AsyncClient, how: str
) -> None:
    events = [changed(f"c{i}") for i in range(5)]
    await served.stream.publish([as_event(event) for event in events])
    entries = await served.stream.read("ns", after=None, limit=10, block_ms=0)
    seen = entries[1].entry_id

    params = {"namespace": "ns"}
    headers = {}
    if how == "header":
        headers["Last-Event-ID"] = seen
    else:
        params["last_event_id"] = seen
    async with http.stream("GET", f"{served.url}/v1/events", params=params, headers=headers) as r:
        received = await next_events(sse_blocks(r), 3)

    assert [sse.id for sse in received] == [entry.entry_id for entry in entries[2:]]
    assert [sse.json() for sse in received] == [event.to_json_dict() for event in events[2:]]


async def test_the_stream_opens_with_a_retry_hint_and_idles_with_heartbeats(
    served: Served, http: httpx.AsyncClient
) -> None:
    url = f"{served.url}/v1/events"
    async with http.stream("GET", url, params={"namespace": "quiet"}) as response:
        blocks = sse_blocks(response)
        first = await anext(blocks)
        async with asyncio.timeout(3):
            heartbeat = await anext(blocks)

    assert first.retry == "3000"
    assert first.comments == ["stream open"]
    assert heartbeat.event is None
    assert heartbeat.comments
    assert heartbeat.comments[0].startswith("ping")


async def test_authorize_refuses_before_streaming(served: Served, http: httpx.AsyncClient) -> None:
    response = await http.get(f"{served.url}/v1/events", params={"namespace": "secret"})

    assert response.status_code == 403
    assert served.authorized == []


@pytest.mark.parametrize(
    ("params", "headers"),
    [
        ({"namespace": "Not A Name"}, {}),
        ({}, {}),
        ({"namespace": "ns", "last_event_id": "latest"}, {}),
        ({"namespace": "ns"}, {"Last-Event-ID": "12;drop"}),
    ],
)
async def test_bad_parameters_are_refused(
    served: Served, http: httpx.AsyncClient, params: dict[str, str], headers: dict[str, str]
) -> None:
    response = await http.get(f"{served.url}/v1/events", params=params, headers=headers)

    assert response.status_code == 422


async def test_a_client_disconnect_ends_the_response(
    served: Served, http: httpx.AsyncClient
) -> None:
    async with http.stream("GET", f"{served.url}/v1/events", params={"namespace": "ns"}) as r:
        await anext(sse_blocks(r))
        assert len(served.server.server_state.tasks) == 1
        assert served.visibility.followers("ns") == 1

    # The app's task for the request finishes, and its subscription is given back.
    await until(lambda: not served.server.server_state.tasks, within=3)
    await until(lambda: served.hub.subscriber_count() == 0, within=3)
    await until(lambda: served.visibility.followers("ns") == 0, within=3)


async def test_server_shutdown_ends_open_streams(served: Served, http: httpx.AsyncClient) -> None:
    async with http.stream("GET", f"{served.url}/v1/events", params={"namespace": "ns"}) as r:
        blocks = sse_blocks(r)
        await anext(blocks)
        served.server.should_exit = True
        # The stream ends by itself, completely (well within the 30 s graceful-shutdown
        # timeout): a last comment, then the end of the chunked body.
        async with asyncio.timeout(5):
            rest = [block async for block in blocks]

    assert rest
    assert rest[-1].event == "stream.closed"
    assert rest[-1].json() == {"reason": "server shutting down"}
    async with asyncio.timeout(5):
        await served.task
