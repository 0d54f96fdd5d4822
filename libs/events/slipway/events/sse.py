"""Server-sent events from a `StreamHub`: resume, per-event authorization, limits, close reason.

`event_source` opens the subscription before answering, so a refusal is a problem document
(429 + `Retry-After` past a limit, 503 when the stream cannot be read, 422 for a malformed
`Last-Event-ID`), never a broken stream. Each entry the service's `visible` callback accepts
is sent with `id: <entry id>`; the others are skipped without a trace, so a client learns
nothing of events it may not see. When the hub ends the stream (slow consumer, unavailable,
shutdown) a last `event: <close_event>` with `{"reason": ...}` says why; clients reconnect
and resume with `Last-Event-ID`.
"""

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

import anyio  # pants: no-infer-dep (starlette's own dependency; sse-starlette wants its Event)
import orjson
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.background import BackgroundTask
from starlette.requests import Request

from slipway.events.entry_ids import ENTRY_ID_PATTERN, is_entry_id
from slipway.events.envelope import StreamEntry
from slipway.events.fanout_settings import FanoutSettings
from slipway.events.hub import SHUTTING_DOWN, StreamHub
from slipway.events.subscription import (
    EventStreamUnavailable,
    Subscription,
    SubscriptionClosed,
    TooManySubscriptions,
)
from slipway.web.problems import VALIDATION_TYPE, ProblemError

logger = logging.getLogger("slipway.events")

LAST_EVENT_ID_HEADER = "Last-Event-ID"
LAST_EVENT_ID_QUERY = "last_event_id"
TOO_MANY_STREAMS_TYPE = "urn:slipway:problem:too-many-event-streams"
STREAM_UNAVAILABLE_TYPE = "urn:slipway:problem:event-stream-unavailable"
CLOSE_EVENT = "stream.closed"

Visible = Callable[[StreamEntry], Awaitable[bool]]
Render = Callable[[StreamEntry], ServerSentEvent]


def render_event(entry: StreamEntry) -> ServerSentEvent:
    """The default rendering: `id` = entry id, `event` = event type, `data` = event JSON."""
    return ServerSentEvent(
        data=entry.event.to_json().decode(), event=entry.event.type, id=entry.entry_id
    )


def last_event_id(request: Request, *, query_param: str = LAST_EVENT_ID_QUERY) -> str | None:
    """The id to resume after: the `Last-Event-ID` header, else the query parameter.

    A malformed one is a 422 validation problem (`ProblemError`), listing the field.
    """
    for location, name, value in (
        ("header", LAST_EVENT_ID_HEADER.lower(), request.headers.get(LAST_EVENT_ID_HEADER)),
        ("query", query_param, request.query_params.get(query_param)),
    ):
        if value is None:
            continue
        if not is_entry_id(value):
            raise ProblemError(
                422,
                "1 invalid field(s)",
                title="Request validation failed",
                type=VALIDATION_TYPE,
                extensions={
                    "errors": [
                        {
                            "loc": [location, name],
                            "pointer": f"{location}/{name}",
                            "message": f"must be a stream entry id ({ENTRY_ID_PATTERN})",
                            "type": "string_pattern_mismatch",
                        }
                    ]
                },
            )
        return value
    return None


async def event_source(
    request: Request,
    hub: StreamHub,
    stream: str,
    *,
    principal: str,
    visible: Visible,
    render: Render = render_event,
    after: str | None = None,
    heartbeat_seconds: float | None = None,
    close_event: str = CLOSE_EVENT,
) -> EventSourceResponse:
    """An SSE response of `stream` for `principal`, showing only entries `visible` accepts.

    `after` defaults to `last_event_id(request)`; settings (heartbeat, retry, timeouts)
    come from the hub's `FanoutSettings`. Raises `ProblemError` (422, 429, 503) to refuse.
    """
    resume = after if after is not None else last_event_id(request)
    try:
        subscription = await hub.subscribe(stream, principal=principal, after=resume).open()
    except TooManySubscriptions as refusal:
        raise ProblemError(
            429,
            str(refusal),
            title="Too many event streams",
            type=TOO_MANY_STREAMS_TYPE,
            headers={"Retry-After": str(refusal.retry_after_seconds)},
            extensions={"scope": refusal.scope, "limit": refusal.limit},
        ) from None
    except SubscriptionClosed as closed:
        raise ProblemError(
            503,
            closed.reason,
            type=STREAM_UNAVAILABLE_TYPE,
            headers={"Retry-After": str(hub.settings.retry_after_seconds)},
        ) from None
    settings = hub.settings
    shutdown = anyio.Event()

    async def close() -> None:
        subscription.close()

    return EventSourceResponse(
        _events(subscription, visible, render, shutdown, settings, close_event),
        ping=heartbeat_seconds if heartbeat_seconds is not None else settings.heartbeat_seconds,
        # At shutdown the generator ends the response itself (a complete chunked body, with
        # the close reason) instead of being cancelled mid-response.
        shutdown_event=shutdown,
        shutdown_grace_period=settings.shutdown_grace_seconds,
        send_timeout=settings.send_timeout_seconds,
        headers={"Cache-Control": "no-store"},
        # Also when the body never ran (the client left before it started).
        background=BackgroundTask(close),
    )


async def _events(
    subscription: Subscription,
    visible: Visible,
    render: Render,
    shutdown: anyio.Event,
    settings: FanoutSettings,
    close_event: str,
) -> AsyncIterator[ServerSentEvent]:
    yield ServerSentEvent(comment="stream open", retry=settings.reconnect_ms)
    watcher = asyncio.ensure_future(_close_at(shutdown, subscription))
    try:
        async for entry in subscription:
            if await _visible(visible, entry):
                event = render(entry)
                if event.id is None:
                    event.id = entry.entry_id
                yield event
        reason = SHUTTING_DOWN if shutdown.is_set() else "closed"
    except SubscriptionClosed as closed:
        reason = closed.reason
        if not isinstance(closed, EventStreamUnavailable):
            logger.info("event stream of %s closed: %s", subscription.stream, reason)
        else:
            logger.warning("event stream of %s closed: %s", subscription.stream, reason)
    finally:
        watcher.cancel()
        subscription.close()
    yield ServerSentEvent(
        event=close_event, data=orjson.dumps({"reason": reason}).decode(), comment=reason
    )


async def _close_at(shutdown: anyio.Event, subscription: Subscription) -> None:
    await shutdown.wait()
    subscription.close()


async def _visible(visible: Visible, entry: StreamEntry) -> bool:
    try:
        return await visible(entry)
    except Exception:
        # Fail closed: an event whose visibility cannot be decided is not sent.
        logger.warning("visibility check of %s failed; skipped", entry.entry_id, exc_info=True)
        return False
