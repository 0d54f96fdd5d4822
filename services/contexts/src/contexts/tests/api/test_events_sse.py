"""GET /v1/events over a real uvicorn server (httpx's ASGITransport buffers streams): events
in order, resuming after Last-Event-ID, heartbeats, authorization, disconnect and shutdown."""

import asyncio
import json
import socket
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx
import pytest
import uvicorn
from fastapi import FastAPI, HTTPException, Request

from contexts.adapters.memory_stream import InMemoryEventStream
from contexts.api.events import events_router
from contexts.domain.events import ChangeAction, ContextChanged
from contexts.events.settings import EventsSettings


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


async def until(condition: Callable[[], bool], within: float) -> None:
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


@dataclass
class Served:
    url: str
    stream: InMemoryEventStream
    server: uvicorn.Server
    task: "asyncio.Task[None]"
    authorized: list[str]


@pytest.fixture
async def served() -> AsyncIterator[Served]:
    stream = InMemoryEventStream()
    authorized: list[str] = []

    async def authorize(request: Request, namespace: str) -> None:
        if namespace == "secret":
            raise HTTPException(403, "not for you")
        authorized.append(namespace)

    app = FastAPI()
    settings = EventsSettings(sse_heartbeat_seconds=0.2)
    app.include_router(events_router(stream, settings, authorize, read_block_ms=100))
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    # A long grace period: streams must end by themselves at shutdown, not be cancelled.
    config = uvicorn.Config(app, lifespan="off", log_config=None, timeout_graceful_shutdown=30)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    await until(lambda: server.started, within=5)
    yield Served(f"http://127.0.0.1:{port}", stream, server, task, authorized)
    server.should_exit = True
    async with asyncio.timeout(10):
        await task
    sock.close()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=5) as client:
        yield client


async def test_events_arrive_in_order_history_first_then_live(
    served: Served, http: httpx.AsyncClient
) -> None:
    before = [changed("a"), changed("b"), changed("other", namespace="elsewhere")]
    await served.stream.publish(before)

    url = f"{served.url}/v1/events"
    async with http.stream("GET", url, params={"namespace": "ns"}) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["cache-control"] == "no-store"
        blocks = sse_blocks(response)
        history = await next_events(blocks, 2)
        after = [changed("a", 2), changed("c")]
        await served.stream.publish(after)
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
    await served.stream.publish(events)
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

    # The app's task for the request finishes: nothing keeps reading the stream.
    await until(lambda: not served.server.server_state.tasks, within=3)


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
    assert rest[-1].comments == ["server shutting down"]
    async with asyncio.timeout(5):
        await served.task
