"""The SSE helper through a real uvicorn: visibility, resume, limits, close reasons, shutdown."""

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Annotated

import httpx
import orjson
import pytest
from fastapi import FastAPI, Query, Request
from sse_starlette import EventSourceResponse

from slipway.events.envelope import Event, StreamEntry
from slipway.events.hub import StreamHub
from slipway.events.memory_stream import InMemoryEventStream
from slipway.events.redis_stream import RedisEventStream
from slipway.events.sse import event_source
from slipway.events.tests.conftest import MakeHub
from slipway.web.problems import install_problem_handlers
from slipway.web.testing.server import Serving, serving

Stream = InMemoryEventStream | RedisEventStream


def _app(hub: StreamHub) -> FastAPI:
    """A service whose callers may not see events marked `hidden_from` them."""
    app = FastAPI()
    install_problem_handlers(app)

    @app.get("/v1/events/{stream}")
    async def events(
        request: Request, stream: str, caller: Annotated[str, Query()]
    ) -> EventSourceResponse:
        async def visible(entry: StreamEntry) -> bool:
            return entry.event.payload.get("hidden_from") != caller

        return await event_source(request, hub, stream, principal=caller, visible=visible)

    return app


def _serving(app: FastAPI) -> AbstractAsyncContextManager[Serving]:
    return serving(app, lifespan="off", graceful_shutdown_seconds=5, stopped_within=15)


@dataclass
class Sse:
    """One parsed server-sent event."""

    event: str | None = None
    id: str | None = None
    data: str = ""
    comments: list[str] = field(default_factory=list)


async def _events(response: httpx.Response) -> AsyncIterator[Sse]:
    current = Sse()
    async for line in response.aiter_lines():
        if line == "":
            if current.event or current.id or current.data:
                yield current
            current = Sse()
        elif line.startswith(":"):
            current.comments.append(line[1:].strip())
        else:
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "data":
                current.data += value
            elif name == "event":
                current.event = value
            elif name == "id":
                current.id = value


def _event(stream: str, n: int, **payload: object) -> Event:
    return Event(stream=stream, type="thing.changed", payload={"n": n, **payload})


async def _until_n(response: httpx.Response, last: int) -> list[Sse]:
    seen: list[Sse] = []
    async with asyncio.timeout(5):
        async for sse in _events(response):
            seen.append(sse)
            if sse.event == "thing.changed" and orjson.loads(sse.data)["payload"]["n"] == last:
                return seen
    return seen


async def test_events_the_subscriber_may_not_see_are_never_sent(
    stream: Stream, make_hub: MakeHub
) -> None:
    hub = await make_hub(stream)
    async with (
        _serving(_app(hub)) as served,
        httpx.AsyncClient(base_url=served.url) as client,
        client.stream("GET", "/v1/events/ns", params={"caller": "bob"}) as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        await _wait_followed(hub, "ns")
        await stream.publish(
            [
                _event("ns", 0),
                _event("ns", 1, hidden_from="bob", body="s3cret-body"),
                _event("ns", 2),
            ]
        )
        seen = await _until_n(response, 2)
    sent = [orjson.loads(sse.data)["payload"]["n"] for sse in seen if sse.event]
    assert sent == [0, 2]
    assert not any("s3cret" in sse.data or "hidden" in sse.data for sse in seen)


async def test_client_resumes_after_its_last_event_id(stream: Stream, make_hub: MakeHub) -> None:
    hub = await make_hub(stream)
    await stream.publish([_event("ns", n) for n in range(5)])
    history = await stream.read("ns", after=None, limit=10, block_ms=0)
    async with (
        _serving(_app(hub)) as served,
        httpx.AsyncClient(base_url=served.url) as client,
    ):
        headers = {"Last-Event-ID": history[2].entry_id}
        async with client.stream(
            "GET", "/v1/events/ns", params={"caller": "bob"}, headers=headers
        ) as response:
            seen = await _until_n(response, 4)
        assert [sse.id for sse in seen] == [entry.entry_id for entry in history[3:]]
        query = {"caller": "bob", "last_event_id": history[3].entry_id}
        async with client.stream("GET", "/v1/events/ns", params=query) as response:
            seen = await _until_n(response, 4)
        assert [sse.id for sse in seen] == [history[4].entry_id]


async def test_malformed_last_event_id_is_a_422_problem(make_hub: MakeHub) -> None:
    hub = await make_hub(InMemoryEventStream())
    transport = httpx.ASGITransport(app=_app(hub))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.get(
            "/v1/events/ns", params={"caller": "bob"}, headers={"Last-Event-ID": "1; DROP"}
        )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["errors"][0]["loc"] == ["header", "last-event-id"]
    assert "DROP" not in body["detail"]
    assert hub.subscriber_count() == 0


@pytest.mark.slow
async def test_sse_flood_from_one_caller_gets_429_past_its_limit_while_others_stay_fast(
    stream: Stream, make_hub: MakeHub
) -> None:
    hub = await make_hub(stream, per_principal=20, total=1_000, retry_after_seconds=7)
    async with (
        _serving(_app(hub)) as served,
        httpx.AsyncClient(base_url=served.url, limits=httpx.Limits(max_connections=200)) as client,
        client.stream("GET", "/v1/events/calm", params={"caller": "alice"}) as victim,
    ):
        opened: list[httpx.Response] = []
        refused: list[httpx.Response] = []
        for index in range(150):
            request = client.build_request(
                "GET", f"/v1/events/flood-{index}", params={"caller": "mallory"}
            )
            response = await client.send(request, stream=True)
            if response.status_code == 200:
                opened.append(response)
            else:
                await response.aread()
                refused.append(response)
        assert len(opened) == 20
        assert len(refused) == 130
        problem = refused[0]
        assert problem.status_code == 429
        assert problem.headers["retry-after"] == "7"
        assert problem.headers["content-type"] == "application/problem+json"
        assert problem.json()["scope"] == "principal"
        await _wait_followed(hub, "calm")
        latencies = []
        lines = _events(victim)
        for n in range(10):
            await stream.publish([_event(f"flood-{index}", n) for index in range(20)])
            sent = time.monotonic()
            await stream.publish([_event("calm", n)])
            async with asyncio.timeout(2):
                async for sse in lines:
                    if sse.event == "thing.changed":
                        break
            latencies.append(time.monotonic() - sent)
        assert max(latencies) < 0.2, f"delivery latency {sorted(latencies)}"
        for response in opened:
            await response.aclose()


async def test_the_close_reason_is_the_last_event_when_the_hub_ends_the_stream(
    make_hub: MakeHub,
) -> None:
    stream = InMemoryEventStream()
    hub = await make_hub(stream)
    async with (
        _serving(_app(hub)) as served,
        httpx.AsyncClient(base_url=served.url) as client,
        client.stream("GET", "/v1/events/ns", params={"caller": "bob"}) as response,
    ):
        await _wait_followed(hub, "ns")
        await hub.stop()
        async with asyncio.timeout(5):
            seen = [sse async for sse in _events(response)]
    assert seen[-1].event == "stream.closed"
    assert orjson.loads(seen[-1].data) == {"reason": "server shutting down"}
    assert seen[-1].id is None  # the client's Last-Event-ID stays that of its last event


async def test_server_shutdown_ends_open_streams_with_the_reason(make_hub: MakeHub) -> None:
    hub = await make_hub(InMemoryEventStream())
    async with (
        _serving(_app(hub)) as served,
        httpx.AsyncClient(base_url=served.url) as client,
        client.stream("GET", "/v1/events/ns", params={"caller": "bob"}) as response,
    ):
        await _wait_followed(hub, "ns")
        served.server.should_exit = True
        async with asyncio.timeout(5):
            seen = [sse async for sse in _events(response)]
        assert orjson.loads(seen[-1].data) == {"reason": "server shutting down"}
    assert hub.subscriber_count() == 0


@pytest.fixture(autouse=True)
def _no_sse_starlette_exit_flag() -> None:
    # sse-starlette keeps a process-wide exit flag; a signal in another test must not end ours.
    from sse_starlette.sse import AppStatus

    AppStatus.should_exit = False


async def _wait_followed(hub: StreamHub, stream: str) -> None:
    async with asyncio.timeout(5):
        while stream not in hub.followed_streams():  # noqa: ASYNC110 - a test's poll
            await asyncio.sleep(0.01)
