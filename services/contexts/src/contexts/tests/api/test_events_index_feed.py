"""GET /v1/events without `namespace`: every namespace's events, for `contexts:index` holders,
over a real uvicorn server, with what the stream retains in `Oldest-Event-ID` /
`Newest-Event-ID`; and the whole service appending every change to the aggregate stream."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx
import pytest
from fastapi import FastAPI, HTTPException, Request

from contexts.adapters.sql.outbox import as_event
from contexts.api.events import AggregateFeed, events_router
from contexts.domain.model import Actor
from contexts.events.visibility import EventVisibility
from contexts.tests.api.sse_support import serving
from contexts.tests.api.test_events_sse import (
    OwnedByTheReader,
    changed,
    next_events,
    sse_blocks,
)
from slipway.events import FanoutSettings, InMemoryEventStream, StreamHub
from slipway.web.problems import install_problem_handlers

ALL = "@all"
INDEXER = Actor(subject="search", scopes=frozenset({"contexts:index"}))


@dataclass
class Served:
    url: str
    stream: InMemoryEventStream


@asynccontextmanager
async def _served(*, aggregate: bool) -> AsyncIterator[Served]:
    stream = InMemoryEventStream(aggregate=ALL, maxlen=20)
    hub = StreamHub(stream, FanoutSettings(heartbeat_seconds=0.2, read_block_ms=100))
    await hub.start()

    async def authorize_index(request: Request) -> Actor:
        if request.headers.get("authorization") != "index":
            raise HTTPException(403, "insufficient_scope")
        return INDEXER

    async def authorize_reader(request: Request) -> Actor:
        raise HTTPException(403, "namespace feeds are not under test here")

    app = FastAPI()
    install_problem_handlers(app)
    feed = AggregateFeed(stream=ALL, retained=stream, authorize=authorize_index)
    visibility = EventVisibility(OwnedByTheReader())
    app.include_router(
        events_router(hub, visibility, authorize_reader, aggregate=feed if aggregate else None)
    )
    try:
        async with serving(app) as running:
            yield Served(running.url, stream)
    finally:
        await hub.stop()


@pytest.fixture
async def served() -> AsyncIterator[Served]:
    """The events router with the aggregate feed."""
    async with _served(aggregate=True) as running:
        yield running


@pytest.fixture
async def served_without_aggregate() -> AsyncIterator[Served]:
    """The events router of an instance with no aggregate stream."""
    async with _served(aggregate=False) as running:
        yield running


async def test_every_namespaces_events_in_order_with_what_the_stream_keeps(
    served: Served, http: httpx.AsyncClient
) -> None:
    sent = [changed("a", namespace="team-a"), changed("b", namespace="team-b")]
    await served.stream.publish([as_event(event) for event in sent])
    kept = await served.stream.read(ALL, after=None, limit=10, block_ms=0)
    headers = {"authorization": "index"}
    async with http.stream("GET", f"{served.url}/v1/events", headers=headers) as response:
        assert response.status_code == 200
        assert response.headers["oldest-event-id"] == kept[0].entry_id
        assert response.headers["newest-event-id"] == kept[-1].entry_id
        blocks = sse_blocks(response)
        history = await next_events(blocks, 2)
        later = changed("c", namespace="team-c")
        await served.stream.publish([as_event(later)])
        live = await next_events(blocks, 1)
    received = history + live
    assert [sse.json() for sse in received] == [e.to_json_dict() for e in [*sent, later]]
    every = await served.stream.read(ALL, after=None, limit=10, block_ms=0)
    assert [sse.id for sse in received] == [entry.entry_id for entry in every]


async def test_the_feed_resumes_after_last_event_id_and_reports_trimming(
    served: Served, http: httpx.AsyncClient
) -> None:
    await served.stream.publish([as_event(changed(f"c{n}", namespace="ns")) for n in range(3)])
    first = await served.stream.read(ALL, after=None, limit=10, block_ms=0)
    headers = {"authorization": "index", "Last-Event-ID": first[0].entry_id}
    async with http.stream("GET", f"{served.url}/v1/events", headers=headers) as response:
        received = await next_events(sse_blocks(response), 2)
    assert [sse.id for sse in received] == [entry.entry_id for entry in first[1:]]
    # Trimmed past the follower's position: the headers tell it before any event.
    await served.stream.publish([as_event(changed(f"d{n}", namespace="ns")) for n in range(40)])
    async with http.stream("GET", f"{served.url}/v1/events", headers=headers) as response:
        oldest = response.headers["oldest-event-id"]
    assert tuple(map(int, oldest.split("-"))) > tuple(map(int, first[0].entry_id.split("-")))


async def test_the_feed_of_every_namespace_needs_the_index_scope(
    served: Served, http: httpx.AsyncClient
) -> None:
    refused = await http.get(f"{served.url}/v1/events", headers={"authorization": "reader"})
    assert refused.status_code == 403


async def test_without_an_aggregate_stream_a_namespace_is_required(
    served_without_aggregate: Served, http: httpx.AsyncClient
) -> None:
    url = f"{served_without_aggregate.url}/v1/events"
    refused = await http.get(url, headers={"authorization": "index"})
    assert refused.status_code == 422
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["errors"][0]["loc"] == ["query", "namespace"]
