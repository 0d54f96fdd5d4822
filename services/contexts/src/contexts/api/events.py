"""`GET /v1/events?namespace=...`: a namespace's change events as server-sent events.

Each event is `id: <stream entry id>`, `event: context.changed`, `data: <ContextChanged
JSON>`. A client resumes after the last id it saw with the `Last-Event-ID` header (browsers'
EventSource send it when they reconnect) or the `last_event_id` query parameter; without
either it gets the namespace's retained history (up to the stream's max length), then live
events. Idle streams get a comment line every `sse_heartbeat_seconds`. The stream ends when
the client disconnects, when the server shuts down (sse-starlette watches uvicorn's exit
flag, which `slipway.web.serve` sets once its drain delay is over) and when the event stream
fails (the client reconnects after `retry` and resumes).

Authorization is the caller's: `authorize(request, namespace)` is awaited before streaming
and raises to refuse. Events are not filtered further, so a caller allowed to read the
namespace learns the names, versions, etags and actors of every context in it, including
those whose ACL it does not pass; no body is ever sent.
"""

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import suppress
from typing import Annotated

import anyio  # pants: no-infer-dep (starlette's own dependency; sse-starlette wants its Event)
from fastapi import APIRouter, Header, Query, Request
from sse_starlette import EventSourceResponse, ServerSentEvent

from contexts.domain.model import NAME_PATTERN
from contexts.domain.relay import EventStream, StreamEntry
from contexts.events.settings import EventsSettings

logger = logging.getLogger(__name__)

EVENT_TYPE = "context.changed"
ENTRY_ID_PATTERN = r"^[0-9]{1,20}-[0-9]{1,20}$"
# How many entries one read returns, and how long it waits for the first.
READ_BATCH = 100
READ_BLOCK_MS = 5_000
# The reconnection delay clients are told (the SSE `retry` field), in milliseconds.
RECONNECT_MS = 3_000
# A client that takes longer than this to accept one event is dropped.
SEND_TIMEOUT_SECONDS = 30.0
# How long a stream may take to end itself at shutdown before it is cancelled; keep it below
# the server's graceful-shutdown timeout (slipway.web: `shutdown_grace_seconds`, 20 s).
SHUTDOWN_GRACE_SECONDS = 2.0

Authorize = Callable[[Request, str], Awaitable[None]]


def events_router(
    stream: EventStream,
    settings: EventsSettings,
    authorize: Authorize | None = None,
    *,
    read_block_ms: int = READ_BLOCK_MS,
) -> APIRouter:
    """The router serving `GET /v1/events`; `authorize` raises to refuse a namespace."""
    router = APIRouter(prefix="/v1", tags=["events"])

    async def entries(
        namespace: str, after: str | None, shutdown: anyio.Event
    ) -> AsyncIterator[ServerSentEvent]:
        yield ServerSentEvent(comment="stream open", retry=RECONNECT_MS)
        cursor = after
        stopping = asyncio.ensure_future(shutdown.wait())
        reading: asyncio.Future[Sequence[StreamEntry]] | None = None
        try:
            while True:
                reading = asyncio.ensure_future(
                    stream.read(namespace, after=cursor, limit=READ_BATCH, block_ms=read_block_ms)
                )
                await asyncio.wait({reading, stopping}, return_when=asyncio.FIRST_COMPLETED)
                if not reading.done():
                    reading.cancel()
                    with suppress(asyncio.CancelledError):
                        await reading
                    yield ServerSentEvent(comment="server shutting down")
                    return
                try:
                    batch = reading.result()
                except Exception:
                    logger.warning(
                        "event stream of %s unavailable; closing the SSE response",
                        namespace,
                        exc_info=True,
                    )
                    return
                for entry in batch:
                    yield ServerSentEvent(
                        data=entry.event.model_dump_json(), event=EVENT_TYPE, id=entry.entry_id
                    )
                    cursor = entry.entry_id
        finally:
            stopping.cancel()
            if reading is not None:
                reading.cancel()

    @router.get(
        "/events",
        summary="Stream a namespace's change events (server-sent events)",
        response_class=EventSourceResponse,
        responses={
            200: {
                "description": "`context.changed` events, `id` = stream entry id",
                "content": {"text/event-stream": {"schema": {"type": "string"}}},
            }
        },
    )
    async def stream_events(
        request: Request,
        namespace: Annotated[str, Query(pattern=NAME_PATTERN)],
        last_event_id: Annotated[
            str | None,
            Query(pattern=ENTRY_ID_PATTERN, description="Resume after this entry id"),
        ] = None,
        last_event_id_header: Annotated[
            str | None,
            Header(
                alias="Last-Event-ID",
                pattern=ENTRY_ID_PATTERN,
                description="Resume after this entry id (sent by EventSource on reconnect)",
            ),
        ] = None,
    ) -> EventSourceResponse:
        if authorize is not None:
            await authorize(request, namespace)
        after = last_event_id_header or last_event_id
        shutdown = anyio.Event()
        return EventSourceResponse(
            entries(namespace, after, shutdown),
            ping=settings.sse_heartbeat_seconds,
            # At shutdown the generator ends the response itself (a complete chunked body),
            # instead of being cancelled mid-response.
            shutdown_event=shutdown,
            shutdown_grace_period=SHUTDOWN_GRACE_SECONDS,
            send_timeout=SEND_TIMEOUT_SECONDS,
            headers={"Cache-Control": "no-store"},
        )

    return router
